"""Command-line: ``quart --app app db upgrade | seed | create-admin | demo`` (``cli``), the demo blog's
deterministic data (``demo_data``) and the bulk seeder for benchmarks at scale (``bulk_data``)."""
