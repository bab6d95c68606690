"""reelforge.domain"""
