"""harness.generator"""
