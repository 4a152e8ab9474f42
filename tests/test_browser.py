"""The offline browser check itself: a page that reaches for the network is caught, a page that draws is waited for."""

import shutil
from pathlib import Path

import pytest
from browser import CHROMIUM, is_local, open_pages

pytestmark = [pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium is not installed"),
              pytest.mark.timeout(300)]


def test_local_urls():
    assert is_local("file:///tmp/book/index.html") and is_local("data:image/png;base64,AAAA")
    assert is_local("http://localhost:8000/x.js") and is_local("http://127.0.0.1/x")
    assert not is_local("https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-svg.js")
    assert not is_local("http://10.0.0.1/x.png") and not is_local("https://localhost.example.org/x")


def test_network_requests_are_counted_and_drawing_is_waited_for(tmp_path: Path):
    (tmp_path / "dot.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>')
    online = tmp_path / "online.html"
    online.write_text('<html><body><p>online</p><script src="https://cdn.example.org/lib.js"></script>'
                      '<img src="https://cdn.example.org/logo.png"></body></html>')
    offline = tmp_path / "offline.html"
    # a "figure" drawn 300 ms after load: the report must see it drawn, without a fixed sleep
    offline.write_text('<html><body><p>offline</p><img src="dot.svg"><div class="plotly-graph-div" id="f"></div>'
                       '<script>setTimeout(() => { document.getElementById("f").innerHTML = '
                       '\'<svg class="main-svg"></svg>\'; }, 300)</script></body></html>')
    rep_online, rep_offline = open_pages([online, offline])
    assert sorted(rep_online.blocked_requests) == ["https://cdn.example.org/lib.js", "https://cdn.example.org/logo.png"]
    assert set(rep_online.failed_requests) == set(rep_online.blocked_requests)
    assert rep_online.broken_images == ["https://cdn.example.org/logo.png"]
    assert rep_offline.blocked_requests == rep_offline.failed_requests == rep_offline.broken_images == []
    assert (rep_offline.plotly_divs, rep_offline.plotly_figures) == (1, 1)
    assert rep_offline.text.strip() == "offline"
