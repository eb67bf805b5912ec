"""harness.nemesis"""
