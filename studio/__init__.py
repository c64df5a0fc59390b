"""The training studio's back end: uploads, datasets, jobs, versions and monitoring.

The Reflex app (ui/) is its only client; jobs run the pipeline's stages as processes of
their own, so the web process never imports torch and never trains in-process.
"""
