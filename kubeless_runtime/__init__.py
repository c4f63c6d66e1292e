"""Kubeless runtime SDK."""
