"""Fake Aliyun SMS, Tencent Cloud SMS and WeChat official-account APIs for the worker's tests.

Each request's signature is checked here with Python's own hmac/hashlib, independently of the
worker's Rust implementation, following the providers' published rules. Prints "PORT <n>" and
serves until killed. The test reads what arrived at GET /_received and scripts failures with
POST /_fail {"aliyun": n, "tencent": n, "wechat_expire_token": true}.

Secrets come from the environment: ALIYUN_KEY_ID, ALIYUN_SECRET, TENCENT_SECRET_ID,
TENCENT_SECRET_KEY, WECHAT_APPID, WECHAT_SECRET.
"""

import base64
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlsplit

LOCK = threading.Lock()
RECEIVED = []
FAIL = {"aliyun": 0, "tencent": 0}
TOKENS = {"issued": 0, "current": None}


def aliyun_signature(secret, method, params):
    def enc(s):
        return quote(s, safe="-_.~")

    canonical = "&".join(
        f"{enc(k)}={enc(v)}" for k, v in sorted(params.items()) if k != "Signature"
    )
    to_sign = f"{method}&{enc('/')}&{enc(canonical)}"
    digest = hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def tencent_authorization(secret_id, secret_key, content_type, host, body, timestamp):
    date = time.strftime("%Y-%m-%d", time.gmtime(timestamp))
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{content_type}\nhost:{host}\n",
            "content-type;host",
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{date}/sms/tc3_request"
    to_sign = "\n".join(
        [
            "TC3-HMAC-SHA256",
            str(timestamp),
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )

    def h(key, msg):
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    key = h(h(h(("TC3" + secret_key).encode(), date), "sms"), "tc3_request")
    sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
        f"SignedHeaders=content-type;host, Signature={sig}"
    )


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n)

    def do_GET(self):
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        if url.path == "/_received":
            with LOCK:
                return self.reply(200, {"received": RECEIVED, "tokens": TOKENS["issued"]})
        if url.path == "/wechat/cgi-bin/token":
            ok = (
                query.get("grant_type") == "client_credential"
                and query.get("appid") == os.environ["WECHAT_APPID"]
                and query.get("secret") == os.environ["WECHAT_SECRET"]
            )
            if not ok:
                return self.reply(200, {"errcode": 40125, "errmsg": "invalid appsecret"})
            with LOCK:
                TOKENS["issued"] += 1
                token = f"tok-{TOKENS['issued']}"
                TOKENS["current"] = token
            return self.reply(200, {"access_token": token, "expires_in": 7200})
        self.reply(404, {"error": "no such path"})

    def do_POST(self):
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        raw = self.body()
        if url.path == "/_fail":
            with LOCK:
                for k, v in json.loads(raw).items():
                    if k == "wechat_expire_token":
                        TOKENS["current"] = None
                    else:
                        FAIL[k] = v
            return self.reply(200, {})
        if url.path == "/aliyun/":
            params = dict(parse_qsl(raw.decode(), keep_blank_values=True))
            expected = aliyun_signature(os.environ["ALIYUN_SECRET"], "POST", params)
            ok = (
                params.get("Signature") == expected
                and params.get("AccessKeyId") == os.environ["ALIYUN_KEY_ID"]
                and params.get("SignatureMethod") == "HMAC-SHA1"
                and params.get("Action") == "SendSms"
            )
            with LOCK:
                failing = FAIL["aliyun"] > 0
                if failing and ok:
                    FAIL["aliyun"] -= 1
                RECEIVED.append(
                    {"provider": "aliyun", "signature_ok": ok, "failed": failing, "params": params}
                )
            if not ok:
                return self.reply(400, {"Code": "SignatureDoesNotMatch", "Message": "bad signature"})
            if failing:
                return self.reply(
                    200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控"}
                )
            return self.reply(200, {"Code": "OK", "Message": "OK", "BizId": "9^0", "RequestId": "r"})
        if url.path == "/tencent/":
            content_type = self.headers.get("Content-Type", "")
            host = self.headers.get("Host", "")
            timestamp = int(self.headers.get("X-TC-Timestamp", "0"))
            expected = tencent_authorization(
                os.environ["TENCENT_SECRET_ID"],
                os.environ["TENCENT_SECRET_KEY"],
                content_type,
                host,
                raw,
                timestamp,
            )
            ok = (
                self.headers.get("Authorization") == expected
                and self.headers.get("X-TC-Action") == "SendSms"
                and self.headers.get("X-TC-Version") == "2021-01-11"
                and abs(time.time() - timestamp) < 300
            )
            body = json.loads(raw)
            with LOCK:
                failing = FAIL["tencent"] > 0
                if failing and ok:
                    FAIL["tencent"] -= 1
                RECEIVED.append(
                    {"provider": "tencent", "signature_ok": ok, "failed": failing, "body": body}
                )
            if not ok:
                return self.reply(
                    200,
                    {"Response": {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "bad"}, "RequestId": "r"}},
                )
            code = "LimitExceeded.PhoneNumberDailyLimit" if failing else "Ok"
            status = [
                {"SerialNo": "s", "PhoneNumber": p, "Fee": 1, "Code": code, "Message": code}
                for p in body.get("PhoneNumberSet", [])
            ]
            return self.reply(200, {"Response": {"SendStatusSet": status, "RequestId": "r"}})
        if url.path == "/wechat/cgi-bin/message/template/send":
            with LOCK:
                valid = TOKENS["current"] is not None and query.get("access_token") == TOKENS["current"]
                RECEIVED.append(
                    {"provider": "wechat", "token_ok": valid, "body": json.loads(raw)}
                )
            if not valid:
                return self.reply(200, {"errcode": 42001, "errmsg": "access_token expired"})
            return self.reply(200, {"errcode": 0, "errmsg": "ok", "msgid": 1})
        self.reply(404, {"error": "no such path"})


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
