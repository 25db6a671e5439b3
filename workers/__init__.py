"""What runs on a device: the denoiser contract, model adapters, samplers, tasks, the Ray actor."""
