"""harness.cluster"""
