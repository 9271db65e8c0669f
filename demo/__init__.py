"""The demo feeder: `python -m demo.feed` publishes a realistic month for all 14 fiscal entities.

Generation (demo.generate, demo.finance, demo.identities) is pure and seeded; demo.feed publishes
and, with the services running, settles the notices they issue and runs the deadline checks.
"""
