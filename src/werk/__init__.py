"""werk — an open-source Industry 4.0 platform.

Connect machines, keep a digital twin of every asset, record their history, run the AI that
watches, predicts and plans, and show whether that AI is helping.
"""

__version__ = "0.1.0"
