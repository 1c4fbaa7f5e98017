"""Drop-in modules for code written against other guard SDKs: change one import line."""
