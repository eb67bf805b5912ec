"""harness.control"""
