"""wiber.runtime"""
