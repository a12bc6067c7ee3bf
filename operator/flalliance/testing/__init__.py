"""Test harnesses shipped with the package (like controller-runtime's envtest): real servers, on loopback."""
