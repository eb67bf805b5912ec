"""`vagrant ssh-config` and `vagrant status --machine-readable` output as Vagrant 2.3 prints it."""

from __future__ import annotations

VIRTUALBOX_SSH_CONFIG = """\
Host n1
  HostName 127.0.0.1
  User vagrant
  Port 2222
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  PasswordAuthentication no
  IdentityFile /home/ana/wiber/vagrant/.vagrant/machines/n1/virtualbox/private_key
  IdentitiesOnly yes
  LogLevel FATAL
  PubkeyAcceptedKeyTypes +ssh-rsa
  HostKeyAlgorithms +ssh-rsa

Host n2
  HostName 127.0.0.1
  User vagrant
  Port 2200
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  PasswordAuthentication no
  IdentityFile "/home/ana/my vms/wiber/vagrant/.vagrant/machines/n2/virtualbox/private_key"
  IdentitiesOnly yes
  LogLevel FATAL

Host n3
  HostName 127.0.0.1
  User vagrant
  Port 2201
  IdentityFile /home/ana/wiber/vagrant/.vagrant/machines/n3/virtualbox/private_key
  IdentitiesOnly yes
"""

LXC_SSH_CONFIG = """\
Host n1
  HostName 10.213.7.11
  User root
  Port 22
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  PasswordAuthentication no
  IdentityFile /work/main/vagrant/.wiber/harness_key
  IdentitiesOnly yes
  LogLevel FATAL

Host n2
  HostName 10.213.7.12
  User root
  Port 22
  IdentityFile /work/main/vagrant/.wiber/harness_key
  IdentitiesOnly yes
"""

STATUS_RUNNING = """\
1764361200,n1,metadata,provider,libvirt
1764361200,n2,metadata,provider,libvirt
1764361200,n3,metadata,provider,libvirt
1764361201,n1,provider-name,libvirt
1764361201,n1,state,running
1764361201,n1,state-human-short,running
1764361201,n1,state-human-long,The Libvirt domain is running.
1764361201,n2,provider-name,libvirt
1764361201,n2,state,running
1764361201,n2,state-human-short,running
1764361201,n3,provider-name,libvirt
1764361201,n3,state,running
1764361201,,ui,info,Current machine states:\\n\\nn1 running (libvirt)
"""

STATUS_NOT_CREATED = STATUS_RUNNING.replace("state,running", "state,not_created")
