"""reelforge.executors"""
