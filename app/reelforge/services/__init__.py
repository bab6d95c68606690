"""reelforge.services"""
