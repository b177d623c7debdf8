"""A local mirror for download tests: dataset files made here, served over HTTP on 127.0.0.1.

Used by the download unit tests and by the workflow test of the S4 MNIST path; no traffic
leaves 127.0.0.1.
"""

import gzip
import hashlib
import http.server
import struct
import threading

import numpy as np


def idx_images(images):
    n, rows, cols = images.shape
    return struct.pack(">iiii", 0x0803, n, rows, cols) + images.astype(np.uint8).tobytes()


def idx_labels(labels):
    return struct.pack(">ii", 0x0801, len(labels)) + labels.astype(np.uint8).tobytes()


def fake_mnist(rng, n_train=6, n_test=4, class_structure=False):
    """Gzipped idx files in MNIST's names, of ``n_train`` training and ``n_test`` test images of
    28x28, with random labels 0..9 (every class present when there are at least 10 images).

    With ``class_structure`` each image is its class's random prototype plus noise, so that
    the classes can be learnt; otherwise the pixels are uniform noise.

    Returns
    -------
    files : dict of file name -> bytes; images (n_train + n_test, 784) uint8; labels (n_train + n_test,)
    """
    def draw_labels(n):
        labels = np.arange(n) % 10
        return rng.permutation(labels)

    train_y, test_y = draw_labels(n_train), draw_labels(n_test)
    if class_structure:
        prototypes = rng.integers(0, 256, size=(10, 28, 28))

        def draw(labels):
            noisy = prototypes[labels] + rng.normal(0.0, 40.0, size=(len(labels), 28, 28))
            return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    else:
        def draw(labels):
            return rng.integers(0, 256, size=(len(labels), 28, 28)).astype(np.uint8)
    train_x, test_x = draw(train_y), draw(test_y)
    raw = {
        "train-images-idx3-ubyte.gz": idx_images(train_x),
        "train-labels-idx1-ubyte.gz": idx_labels(train_y),
        "t10k-images-idx3-ubyte.gz": idx_images(test_x),
        "t10k-labels-idx1-ubyte.gz": idx_labels(test_y),
    }
    files = {name: gzip.compress(data, mtime=0) for name, data in raw.items()}
    images = np.concatenate([train_x, test_x]).reshape(n_train + n_test, 784)
    return files, images, np.concatenate([train_y, test_y])


def md5_table(files):
    """File name -> MD5 hex digest of each file."""
    return {name: hashlib.md5(data).hexdigest() for name, data in files.items()}


class Server:
    """Serves ``/good/<f>`` as is, ``/corrupt/<f>`` with one byte changed, ``/error/<f>`` as
    HTTP 500, ``/missing/<f>`` as 404 and ``/cut/<f>`` closed after half of the announced body."""

    def __init__(self, files):
        self.files = files
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append(self.path)
                _, mode, name = self.path.split("/", 2)
                body = server.files.get(name)
                if body is None or mode == "missing":
                    self.send_error(404)
                    return
                if mode == "error":
                    self.send_error(500, "planted failure")
                    return
                if mode == "corrupt":
                    body = bytes([body[0] ^ 0xFF]) + body[1:]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mode == "cut":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, mode):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{mode}/"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()
