"""The claims of Lyu & Li (ICLR 2020), "Gradient descent maximizes the margin of homogeneous
neural networks": their checks (``claims/``), tests and controls (properties/README.md)."""
