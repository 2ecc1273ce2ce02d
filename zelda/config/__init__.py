"""The Hydra config outside `@hydra.main` (composition) and the startup checks of its values."""
