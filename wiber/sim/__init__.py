"""wiber.sim"""
