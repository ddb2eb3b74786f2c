"""A bare Flask app: the floor the submissions benchmark sets Holdfast's respondent
routes beside, served by the same gunicorn settings and driven by the same client."""

from flask import Flask, redirect, request

app = Flask(__name__)


@app.get("/")
def page():
    return "<!DOCTYPE html><title>Floor</title><p>A page.</p>"


@app.post("/send")
def send():
    # Reads the form and redirects, as a send does, with nothing else to do.
    return redirect(f"/done?answer={request.form.get('answer', '')}")
