"""PPO and GRPO baselines on verl: data preparation, the reward function, launch scripts."""
