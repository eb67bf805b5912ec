# Loads a Vagrantfile against a recording stand-in for Vagrant's config object and prints,
# as JSON, every setting and call it made, so tests can check what each machine gets
# (addresses, provider settings, provisioners) without Vagrant, plugins or machines.
#
# usage: ruby vagrantfile_probe.rb VAGRANTFILE
require "json"

class Recorder
  def initialize(log, path)
    @log = log
    @path = path
  end

  def define(name, *_args)
    yield Recorder.new(@log, ["machine:#{name}"])
  end

  def provider(name, *_args)
    here = @path + ["provider:#{name}"]
    yield Recorder.new(@log, here), Recorder.new(@log, here + ["override"])
  end

  def respond_to_missing?(*_args)
    true
  end

  def method_missing(name, *args, **kw, &block)
    call = name.to_s
    if call.end_with?("=")
      @log << { "path" => @path, "set" => call.chomp("="), "value" => args[0] }
      args[0]
    elsif block
      block.call(Recorder.new(@log, @path + [call]))
    elsif args.empty? && kw.empty?
      Recorder.new(@log, @path + [call])
    else
      @log << { "path" => @path, "call" => call, "args" => args.map(&:to_s), "kw" => kw }
      nil
    end
  end
end

module Vagrant
  LOG = []

  def self.configure(_version)
    yield Recorder.new(LOG, ["config"])
  end
end

load ARGV.fetch(0)
puts JSON.generate(Vagrant::LOG)
