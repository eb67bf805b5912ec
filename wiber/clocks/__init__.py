"""wiber.clocks"""
