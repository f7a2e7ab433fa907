"""The tools around the app: commands, the load generator, the benchmarks, seeding at scale."""
