"""Flask + gunicorn, the classic WSGI way: `gunicorn -w 1 benchmarks.peer_servers.flask_app:app`.

A multipart upload in the `file` field, as the service takes it; one sync worker, no batching
(WSGI has no place for it).
"""

from __future__ import annotations

from flask import Flask, abort, jsonify, request

from benchmarks.peer_servers.classify import Model, answer, prepare

app = Flask(__name__)
model = Model()


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/predict")
def predict():  # type: ignore[no-untyped-def]
    upload = request.files.get("file")
    if upload is None:
        abort(422)
    return jsonify(answer(model.predict(prepare(upload.read()))[0]))
