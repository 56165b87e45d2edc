"""Test kit: throwaway fleets of real SSH hosts on loopback."""
