"""Pure domain models shared by every stage. Imports nothing else of ours."""
