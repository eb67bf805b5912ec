"""harness.checkers"""
