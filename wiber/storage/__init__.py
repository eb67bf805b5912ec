"""wiber.storage"""
