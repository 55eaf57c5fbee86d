"""The Airbyte platform's side of "Authenticate your Instagram account", for both logins, against
the fake Graph API and then the real binary.

The platform runs a spec's declarative OAuth 2.0 (`advanced_auth.oauth_config_specification`)
itself: `DeclarativeOAuthSpecHandler` builds template values from the user's input (here
`login`), the spec's `oauth_connector_input_specification`, the app's id and secret, the
redirect URL and a random state, renders the consent URL with Jinjava, and after the redirect
renders the access-token URL, parameters and headers, POSTs the exchange, takes the outputs at
`path_in_oauth_response` and stores them at `path_in_connector_config` (with the server outputs,
the app's id and secret). `Platform` below does the same steps (jinja2 renders the same
templates); the test plays the browser. Meta's hosts are mapped to the fake, which serves them
all on one origin. The completed config then goes to the real binary: its first `check`
exchanges the short-lived token for a long-lived one and hands it over in a CONTROL message, and
a read with the stored config works."""

import json
import subprocess
import urllib.parse

import jinja2
import jsonschema
import pytest
import requests

from conftest import BIN

REDIRECT = "http://localhost:8000/auth_flow"
META_HOSTS = ["https://www.facebook.com", "https://graph.facebook.com", "https://www.instagram.com",
              "https://api.instagram.com", "https://graph.instagram.com"]
PERMISSIONS = {
    "facebook": {"instagram_basic", "instagram_manage_insights", "pages_show_list", "pages_read_engagement"},
    "instagram": {"instagram_business_basic", "instagram_business_manage_insights"},
}
DIALOG = {"facebook": "https://www.facebook.com/dialog/oauth", "instagram": "https://www.instagram.com/oauth/authorize"}
TOKEN_URL = {"facebook": "https://graph.facebook.com/oauth/access_token",
             "instagram": "https://api.instagram.com/oauth/access_token"}


def spec():
    out = subprocess.run([str(BIN), "spec"], capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])["spec"]


class Platform:
    """The platform's DeclarativeOAuthFlow, step by step (see the module docs)."""

    KEYS = {"auth_code_key": "code", "client_id_key": "client_id", "client_secret_key": "client_secret",
            "redirect_uri_key": "redirect_uri", "scope_key": "scope", "state_key": "state"}

    def __init__(self, advanced_auth, user_input, app_id, app_secret, fake_url):
        assert advanced_auth["auth_flow_type"] == "oauth2.0"
        self.oauth = advanced_auth["oauth_config_specification"]
        jsonschema.validate(user_input, self.oauth["oauth_user_input_from_connector_config_specification"])
        jsonschema.validate({"client_id": app_id, "client_secret": app_secret},
                            self.oauth["complete_oauth_server_input_specification"])
        self.merged = {**user_input, **self.oauth["oauth_connector_input_specification"]}
        self.user_input, self.app_id, self.app_secret, self.fake_url = user_input, app_id, app_secret, fake_url
        self.state = "pl4tf0rmState"

    def values(self, **known):
        values = {key: str(self.merged.get(key, default)) for key, default in self.KEYS.items()}
        for key, value in self.merged.items():
            values[key] = value if isinstance(value, str) else ""
        for key, value in known.items():
            values[values[f"{key}_key"]] = value
        for key in ("client_id", "client_secret", "auth_code", "state", "redirect_uri", "scope"):
            name = values[f"{key}_key"]
            value = values.get(name)
            encoded = urllib.parse.quote_plus(value) if value is not None and key in ("redirect_uri", "scope") else value
            values[f"{key}_param"] = f"{name}={encoded}"
            values[f"{key}_value"] = value
        return values

    @staticmethod
    def render(template, values):
        return jinja2.Environment().from_string(template).render(values)

    def to_fake(self, url):
        for host in META_HOSTS:
            if url.startswith(host):
                return self.fake_url + url[len(host):]
        raise AssertionError(f"not a Meta host: {url}")

    def consent_url(self):
        values = self.values(client_id=self.app_id, redirect_uri=REDIRECT, state=self.state)
        return self.render(self.merged["consent_url"], values)

    def complete(self, redirected_to):
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(redirected_to).query))
        assert query.get("state") == self.state, "the state the platform sent comes back"
        code = query["code"]
        values = self.values(client_id=self.app_id, client_secret=self.app_secret, auth_code=code,
                             redirect_uri=REDIRECT, state=self.state)
        url = self.render(self.merged["access_token_url"], values)
        params = {self.render(k, values): self.render(v, values) for k, v in self.merged["access_token_params"].items()}
        headers = {self.render(k, values): self.render(v, values) for k, v in self.merged["access_token_headers"].items()}
        assert headers["Content-Type"] == "application/x-www-form-urlencoded"
        answer = requests.post(self.to_fake(url), data=params, headers=headers, timeout=10)
        assert answer.status_code == 200, answer.text
        data = answer.json()
        extracted = {}
        for path in self.merged.get("extract_output") or []:
            value = data
            for part in path.split("."):
                value = value[int(part)] if isinstance(value, list) else value[part]
            extracted[path.split(".")[-1]] = value
        output_spec = self.oauth["complete_oauth_output_specification"]
        outputs = {k: v for k, v in extracted.items() if k in output_spec["properties"]}
        jsonschema.validate(outputs, output_spec)
        config = {}
        for key, value in outputs.items():
            put(config, output_spec["properties"][key]["path_in_connector_config"], value)
        server = self.oauth["complete_oauth_server_output_specification"]["properties"]
        for key, value in {"client_id": self.app_id, "client_secret": self.app_secret}.items():
            put(config, server[key]["path_in_connector_config"], value)
        user = self.oauth["oauth_user_input_from_connector_config_specification"]["properties"]
        for key, value in self.user_input.items():
            put(config, user[key]["path_in_connector_config"], value)
        return url, params, config


def put(config, path, value):
    for part in path[:-1]:
        config = config.setdefault(part, {})
    config[path[-1]] = value


def run(args, env_now):
    out = subprocess.run([str(BIN), *args], capture_output=True, text=True, env=env_now)
    return out, [json.loads(line) for line in out.stdout.splitlines()]


@pytest.mark.parametrize("login", ["facebook", "instagram"])
def test_platform_runs_the_declared_flow_and_the_first_check_completes_it(login, fake_graph_info, connector_env,
                                                                         tmp_path):
    import os

    info = fake_graph_info
    app_id, app_secret, fake_url = info["FAKE_GRAPH_APP_ID"], info["FAKE_GRAPH_APP_SECRET"], info["FAKE_GRAPH_URL"]
    platform = Platform(spec()["advanced_auth"], {"login": login}, app_id, app_secret, fake_url)

    consent = platform.consent_url()
    parts = urllib.parse.urlsplit(consent)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == DIALOG[login]
    query = dict(urllib.parse.parse_qsl(parts.query))
    assert query["client_id"] == app_id and query["redirect_uri"] == REDIRECT and query["response_type"] == "code"
    assert PERMISSIONS[login] <= set(query["scope"].split(",")), query["scope"]

    # The browser: the person logs in and approves; Meta redirects to the platform.
    redirect = requests.get(platform.to_fake(consent), allow_redirects=False, timeout=10)
    assert redirect.status_code == 302, redirect.text
    token_url, params, config = platform.complete(redirect.headers["Location"].split("#")[0])
    assert token_url == TOKEN_URL[login]
    assert params["code"] and params["redirect_uri"] == REDIRECT
    assert params.get("grant_type") == ("authorization_code" if login == "instagram" else None)
    assert set(config) == {"access_token", "client_id", "client_secret", "login"}
    short = config["access_token"]

    # The source is saved with that config (plus the fake's origin); its first check exchanges
    # the short-lived token and hands the long-lived one back.
    config["api_base_url"] = fake_url
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    env = dict(os.environ)
    out, messages = run(["check", "--config", str(path)], env)
    assert messages[-1]["connectionStatus"] == {"status": "SUCCEEDED"}, out.stdout
    controls = [m["control"]["connectorConfig"]["config"] for m in messages if m["type"] == "CONTROL"]
    assert len(controls) == 1
    stored = controls[0]
    assert stored["access_token"] != short and stored["access_token_renewed_at"]
    assert short not in out.stdout and short not in out.stderr
    assert app_secret not in "".join(l for l in out.stdout.splitlines() if '"CONTROL"' not in l) + out.stderr

    path.write_text(json.dumps(stored))
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"streams": [{"stream": {"name": "users", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
                                                "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}]}))
    out, messages = run(["read", "--config", str(path), "--catalog", str(catalog)], env)
    assert out.returncode == 0, out.stdout
    assert [m for m in messages if m["type"] == "RECORD"], "the stored long-lived token reads"
    assert not [m for m in messages if m["type"] == "CONTROL"], "nothing left to renew"
    assert stored["access_token"] not in out.stdout


def test_the_platform_sees_metas_refusals(fake_graph_info):
    """A code is single-use, and a wrong app secret is refused: the token endpoint answers Meta's
    error, which the platform shows (it never reaches the connector)."""
    info = fake_graph_info
    for login in ("facebook", "instagram"):
        wrong = Platform(spec()["advanced_auth"], {"login": login}, info["FAKE_GRAPH_APP_ID"], "wrong-secret-1234",
                         info["FAKE_GRAPH_URL"])
        redirect = requests.get(wrong.to_fake(wrong.consent_url()), allow_redirects=False, timeout=10)
        with pytest.raises(AssertionError, match="client secret"):
            wrong.complete(redirect.headers["Location"].split("#")[0])
        right = Platform(spec()["advanced_auth"], {"login": login}, info["FAKE_GRAPH_APP_ID"],
                         info["FAKE_GRAPH_APP_SECRET"], info["FAKE_GRAPH_URL"])
        redirect = requests.get(right.to_fake(right.consent_url()), allow_redirects=False, timeout=10)
        location = redirect.headers["Location"].split("#")[0]
        right.complete(location)
        with pytest.raises(AssertionError, match="has been used"):
            right.complete(location)
