"""The mini scale's generator: a pixel-space text-to-image diffusion model for 28x28 Fashion-MNIST-like images
(`model`), its training on the real train split (`train`) and the web-like captions it learnt from (`captions`).
Its shipped weights and model card are in `fakeit_lib/data/mini_generator/`."""
