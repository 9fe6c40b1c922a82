"""The Gradio page and its Plotly charts."""
