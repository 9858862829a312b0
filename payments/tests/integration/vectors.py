"""Independent test vectors for Wattpay's payment verification.

WeChat Pay v3 notifications are built and signed with Python's `cryptography` (AES-256-GCM,
RSASSA-PKCS1-v1_5 SHA-256, an X.509 platform certificate); Alipay notifications are signed with
the official `alipay-sdk-python` (SignatureUtils.get_sign_content / sign_with_rsa2) in UTF-8 and
GBK. Input (stdin, JSON): {"wechat_orders": [[out_trade_no, fen], ...], "alipay_orders": [...]}.
Output (stdout, JSON): keys and vectors.
"""
import base64, datetime, json, os, sys, time, urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from alipay.aop.api.util.SignatureUtils import get_sign_content, sign_with_rsa2

inp = json.load(sys.stdin)
now = int(time.time())


def key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem_private_pkcs8(k):
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def pem_public(k):
    return k.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def bare(pem):
    return "".join(l for l in pem.splitlines() if not l.startswith("-----"))


def sign(k, message: bytes) -> str:
    return base64.b64encode(k.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


# --- WeChat Pay v3 ---
mchid, appid = "1900000109", "wxd678efh567hg6787"
api_v3_key = "".join("abcdefghijklmnopqrstuvwxyz012345"[i] for i in range(32))
merchant_key, platform_key, pubkey_key = key(), key(), key()
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
serial_number = x509.random_serial_number()
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(platform_key.public_key()).serial_number(serial_number)
        .not_valid_before(datetime.datetime(2024, 1, 1)).not_valid_after(datetime.datetime(2034, 1, 1))
        .sign(platform_key, hashes.SHA256()))
cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
cert_serial = format(serial_number, "X")
pub_key_id = "PUB_KEY_ID_0114232134912410000000000000"


def encrypt(resource, aad, key_bytes=api_v3_key.encode()):
    nonce = base64.b64encode(os.urandom(9)).decode()  # 12 characters
    ct = AESGCM(key_bytes).encrypt(nonce.encode(), json.dumps(resource, ensure_ascii=False).encode(), aad.encode())
    return {"original_type": aad, "algorithm": "AEAD_AES_256_GCM", "ciphertext": base64.b64encode(ct).decode(),
            "associated_data": aad, "nonce": nonce}


def wechat(event_type, resource, *, signer=platform_key, serial=cert_serial, ts=now, key_bytes=api_v3_key.encode()):
    aad = "refund" if event_type.startswith("REFUND.") else "transaction"
    body = json.dumps({"id": base64.b16encode(os.urandom(8)).decode(), "create_time": "2026-11-22T10:00:00+08:00",
                       "resource_type": "encrypt-resource", "event_type": event_type, "summary": "支付成功",
                       "resource": encrypt(resource, aad, key_bytes)}, ensure_ascii=False, separators=(",", ":"))
    nonce = base64.b16encode(os.urandom(16)).decode()
    signature = sign(signer, f"{ts}\n{nonce}\n{body}\n".encode())
    return {"headers": {"Wechatpay-Timestamp": str(ts), "Wechatpay-Nonce": nonce, "Wechatpay-Signature": signature,
                        "Wechatpay-Serial": serial, "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048"},
            "body": body}


def transaction(out_trade_no, fen, txn):
    return {"mchid": mchid, "appid": appid, "out_trade_no": out_trade_no, "transaction_id": txn, "trade_type": "JSAPI",
            "trade_state": "SUCCESS", "trade_state_desc": "支付成功", "bank_type": "CMC", "attach": "",
            "success_time": "2026-11-22T10:00:00+08:00", "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            "amount": {"total": fen, "payer_total": fen, "currency": "CNY", "payer_currency": "CNY"}}


(o1, f1), (o2, f2), (o3, f3) = inp["wechat_orders"][:3]
w = {}
w["valid"] = wechat("TRANSACTION.SUCCESS", transaction(o1, f1, "4200000001202611220000000001"))
w["valid_pub_key_id"] = wechat("TRANSACTION.SUCCESS", transaction(o2, f2, "4200000001202611220000000002"),
                               signer=pubkey_key, serial=pub_key_id)
w["refund"] = wechat("REFUND.SUCCESS", {"mchid": mchid, "out_trade_no": o1, "transaction_id": "4200000001202611220000000001",
                                        "out_refund_no": "RF0001", "refund_id": "50000000382019052709732678859",
                                        "refund_status": "SUCCESS", "success_time": "2026-11-22T11:00:00+08:00",
                                        "user_received_account": "招商银行信用卡0403",
                                        "amount": {"total": f1, "refund": f1, "payer_total": f1, "payer_refund": f1}})
extra = wechat("TRANSACTION.SUCCESS", transaction(o3, f3, "4200000001202611220000000003"))
extra["body"] = extra["body"].replace('","event_type"', '", "event_type"', 1)
w["extra_space"] = extra
w["wrong_api_v3_key"] = wechat("TRANSACTION.SUCCESS", transaction(o3, f3, "4200000001202611220000000004"),
                               key_bytes=b"Z" * 32)
probe = wechat("TRANSACTION.SUCCESS", transaction(o3, f3, "4200000001202611220000000005"))
probe["headers"]["Wechatpay-Signature"] = "WECHATPAY/SIGNTEST/" + probe["headers"]["Wechatpay-Signature"]
w["signtest"] = probe
w["tampered_amount"] = wechat("TRANSACTION.SUCCESS", transaction(o3, 1, "4200000001202611220000000006"))
stale = wechat("TRANSACTION.SUCCESS", transaction(o3, f3, "4200000001202611220000000007"), ts=now - 301)
w["stale"] = stale
w["unknown_serial"] = wechat("TRANSACTION.SUCCESS", transaction(o3, f3, "4200000001202611220000000008"),
                             serial="5157F09EFDC096DE15EBE81A47057A7232F1B8E1")

# --- Alipay (official SDK signs) ---
alipay_key, app_key = key(), key()
alipay_priv_pkcs1 = bare(alipay_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                                  serialization.NoEncryption()).decode())
app_id, seller_id = "2021000117600000", "2088102146225135"


def alipay(out_trade_no, yuan, trade_no, charset, status="TRADE_SUCCESS"):
    params = {"gmt_create": "2026-11-22 10:00:00", "charset": charset, "seller_email": "shop@example.com",
              "subject": "电费充值 101室", "buyer_id": "2088102177846880", "invoice_amount": yuan,
              "notify_id": "2026112200222100000000000000000001", "fund_bill_list": '[{"amount":"%s","fundChannel":"ALIPAYACCOUNT"}]' % yuan,
              "notify_type": "trade_status_sync", "trade_status": status, "receipt_amount": yuan, "app_id": app_id,
              "buyer_pay_amount": yuan, "seller_id": seller_id, "gmt_payment": "2026-11-22 10:00:05",
              "notify_time": "2026-11-22 10:00:06", "version": "1.0", "out_trade_no": out_trade_no,
              "total_amount": yuan, "trade_no": trade_no, "auth_app_id": app_id, "buyer_logon_id": "159****5620",
              "point_amount": "0.00", "passback_params": ""}
    content = get_sign_content({k: v for k, v in params.items() if v != ""})
    params["sign"] = sign_with_rsa2(alipay_priv_pkcs1, content, charset)
    params["sign_type"] = "RSA2"
    return params


def form(params, charset):
    return urllib.parse.urlencode(params, encoding=charset)


(a1, y1), (a2, y2), (a3, y3) = inp["alipay_orders"][:3]
a = {}
a["utf8"] = form(alipay(a1, y1, "2026112222001400000000000001", "utf-8"), "utf-8")
a["gbk"] = form(alipay(a2, y2, "2026112222001400000000000002", "GBK"), "gbk")
tampered = alipay(a3, y3, "2026112222001400000000000003", "utf-8")
tampered["total_amount"] = "0.01"
a["tampered_amount"] = form(tampered, "utf-8")
a["wait_buyer_pay"] = form(alipay(a3, y3, "2026112222001400000000000004", "utf-8", "WAIT_BUYER_PAY"), "utf-8")

json.dump({
    "wechat": {"mchid": mchid, "appid": appid, "api_v3_key": api_v3_key, "merchant_serial": "3775B6A45ACD588826D15E583A95F5DD",
               "merchant_private_key_pem": pem_private_pkcs8(merchant_key),
               "platform_cert_pem": cert_pem, "platform_cert_serial": cert_serial,
               "pub_key_id": pub_key_id, "pub_key_pem": pem_public(pubkey_key), "vectors": w},
    "alipay": {"app_id": app_id, "seller_id": seller_id, "app_private_key_pem": bare(pem_private_pkcs8(app_key)),
               "alipay_public_key": bare(pem_public(alipay_key)), "vectors": a},
}, sys.stdout, ensure_ascii=False)
