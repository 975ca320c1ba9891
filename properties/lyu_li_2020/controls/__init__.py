"""Negative controls of the Lyu & Li checks: each shows its property failing on a planted
bug, a broken dynamic or a violated assumption."""
