"""pxehook's own TFTP server (asyncio UDP): static loaders plus per-MAC config names."""
