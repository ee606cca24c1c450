"""Training a text-to-image model (full fine-tuning, LoRA, DreamBooth-LoRA, from random init, or the VAE):

config (TrainConfig and its sections), data (examples, captions, pixels), encode (latents and text embeddings),
models (what is trained and frozen), loss, loop (one optimizer step), checkpoint (atomic, resumable), outputs
(diffusers/peft-format weights, log and plot), vae, dreambooth (class images), and train (the whole run).
"""
