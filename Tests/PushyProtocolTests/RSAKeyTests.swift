import Foundation
import Testing
@testable import PushyProtocol

/// A fixed 2048-bit key made once with `openssl genrsa -traditional 2048` (and its PKCS#8 and
/// public forms via `openssl pkcs8 -topk8 -nocrypt` / `openssl rsa -pubout` / `-RSAPublicKey_out`),
/// so known answers computed with the openssl command line can be pinned. Test-only key.
enum CryptoFixtures {
    static let pkcs1PrivatePEM = """
-----BEGIN RSA PRIVATE KEY-----
MIIEpQIBAAKCAQEAovLoXzMqt7zzs+uyVphksRorHkEmjNvQGeJ+QscnhOYydu+w
ejKtJtSty3pnEX2keJsvLrlm+Ng61njjhi1LkQVfhoITb4Hd1M4s846ylter8VJK
4xRmmwpsfNYPAOr/uzYKxcLxX0rO5Zha9mLSfFacg+rgpaIA1PzBqVFEPwrlQttJ
u5tw1Jaky3Up5hbKVBc9Ea6T72yewe3eoXqYG/TUhaKuFkCakvx6kjwQpjcikawE
PIxjmCdh6cwcJc/lvKac2gpf4q02gyJmFreBlNM0DEGJJ3EgKD44+pvothSySXEf
07eLwhkMhTWaI00K2jUsfN/1/3xyhUWNykvzyQIDAQABAoIBAAC4HvQuN5GVx3RC
UEQQ6mWpL5MirYxIJfZDBRBQqJXt6rb44Ifu4TH5A89dPjYE0cAoZQ8eeGA3Vsdp
S/yX9ad+R0+6E2KveoYLvEFS87eC3FHkbW1kGCClD3eGZDd+wPmK5bjgATNERmVf
1aVZKFDQUECsimRdkH1gLMJiwrU4hRZpwBO1uY67PzBFteSoDRijUQpTrk2eb399
iZhkUkJg2aGWpMC45vsh2vfAxkCubSh/oh+dyEPJklqvaLtDNrbe4UcOLvJTzk1x
wj21gcPLzR1jvx1ywhsoCt4zel0pc1RjjsNgvVMWUOr4zLMmEdOd2h+e5lucT+eP
MJHaIYECgYEAzi5mfEj/WaGxU2jWA4YO/U27mooCvjepazTlVa/6s3pUyjnv7/c7
XXu6KqjfT9r/l3+tKcYjv+VIaLSYH7ctXP/efv2q72Rg8WPApwJstNgvR6BsvpNy
GZG67Vysi+hfzC0adxcFyYevSfuNiaBhyXIrGjtk6X+7gM4FN4yteLkCgYEAylJQ
Qs3SXqgf24Qp8qlbgSGawRzGPXgY0xfE9qCgLf90udhJmRl8Fz3QDx9W2RyB90iE
0oM8b5Hbmmdio9586aiMv+5uiqZ1uGw0TMu1pFlQk6J4Pv0+9n9fG2AmrSA8C5mE
i1pthfc8REJmGSvNqNDP81WjTj67pnyj344fq5ECgYEAqPq+Y/4vyXYLryCsxhaJ
EnEy4GVb+ioEYCjqDGA+R/pqo5L4YuNtdCCDY5Mj8n66G6A4e5Q4mH2B6s6YHuYx
95Z88/dSsQDDsxLeQgJqtYy4syt39HlDelFFsmPRxpicaupMVm44AAOEVk4kojcf
7cn0KXukKPrW4an3/J7/TYECgYEAqP1f9Kydzlp3YY9eykUTHSTIcgxquOUbNxZf
efBoWoNJKAG0V6CluXPz2O3ASNA67iUwa/UaAca+upUoGt+3TiNujNHGmyC2qzgV
5x8vtPq1BttpvJMiiBmTgvYo1+pYvQeZYhxB5ue++vTK+rNPsHXZe9JH+Q8FBeaN
qii340ECgYEAkkJRsMm9euLN2iTTrIWFHYFjtHZIdK0Jlm6NtgNrFGEoQMSnJIrg
xWHLps/F9EpNMEmVpMOyFMlxR3BvMDi3kq4EVuULhzXNTKQkqtP/PpHSfg6jRlZf
Xv2qg136tPL2h+FTg3whMFAkiKmpJaYSpmrij3nrb+6mHJIj2pmjbdQ=
-----END RSA PRIVATE KEY-----
"""
    static let pkcs8PrivatePEM = """
-----BEGIN PRIVATE KEY-----
MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQCi8uhfMyq3vPOz
67JWmGSxGiseQSaM29AZ4n5CxyeE5jJ277B6Mq0m1K3LemcRfaR4my8uuWb42DrW
eOOGLUuRBV+GghNvgd3UzizzjrKW16vxUkrjFGabCmx81g8A6v+7NgrFwvFfSs7l
mFr2YtJ8VpyD6uClogDU/MGpUUQ/CuVC20m7m3DUlqTLdSnmFspUFz0RrpPvbJ7B
7d6hepgb9NSFoq4WQJqS/HqSPBCmNyKRrAQ8jGOYJ2HpzBwlz+W8ppzaCl/irTaD
ImYWt4GU0zQMQYkncSAoPjj6m+i2FLJJcR/Tt4vCGQyFNZojTQraNSx83/X/fHKF
RY3KS/PJAgMBAAECggEAALge9C43kZXHdEJQRBDqZakvkyKtjEgl9kMFEFCole3q
tvjgh+7hMfkDz10+NgTRwChlDx54YDdWx2lL/Jf1p35HT7oTYq96hgu8QVLzt4Lc
UeRtbWQYIKUPd4ZkN37A+YrluOABM0RGZV/VpVkoUNBQQKyKZF2QfWAswmLCtTiF
FmnAE7W5jrs/MEW15KgNGKNRClOuTZ5vf32JmGRSQmDZoZakwLjm+yHa98DGQK5t
KH+iH53IQ8mSWq9ou0M2tt7hRw4u8lPOTXHCPbWBw8vNHWO/HXLCGygK3jN6XSlz
VGOOw2C9UxZQ6vjMsyYR053aH57mW5xP548wkdohgQKBgQDOLmZ8SP9ZobFTaNYD
hg79TbuaigK+N6lrNOVVr/qzelTKOe/v9ztde7oqqN9P2v+Xf60pxiO/5UhotJgf
ty1c/95+/arvZGDxY8CnAmy02C9HoGy+k3IZkbrtXKyL6F/MLRp3FwXJh69J+42J
oGHJcisaO2Tpf7uAzgU3jK14uQKBgQDKUlBCzdJeqB/bhCnyqVuBIZrBHMY9eBjT
F8T2oKAt/3S52EmZGXwXPdAPH1bZHIH3SITSgzxvkduaZ2Kj3nzpqIy/7m6KpnW4
bDRMy7WkWVCTong+/T72f18bYCatIDwLmYSLWm2F9zxEQmYZK82o0M/zVaNOPrum
fKPfjh+rkQKBgQCo+r5j/i/JdguvIKzGFokScTLgZVv6KgRgKOoMYD5H+mqjkvhi
4210IINjkyPyfroboDh7lDiYfYHqzpge5jH3lnzz91KxAMOzEt5CAmq1jLizK3f0
eUN6UUWyY9HGmJxq6kxWbjgAA4RWTiSiNx/tyfQpe6Qo+tbhqff8nv9NgQKBgQCo
/V/0rJ3OWndhj17KRRMdJMhyDGq45Rs3Fl958Ghag0koAbRXoKW5c/PY7cBI0Dru
JTBr9RoBxr66lSga37dOI26M0cabILarOBXnHy+0+rUG22m8kyKIGZOC9ijX6li9
B5liHEHm57769Mr6s0+wddl70kf5DwUF5o2qKLfjQQKBgQCSQlGwyb164s3aJNOs
hYUdgWO0dkh0rQmWbo22A2sUYShAxKckiuDFYcumz8X0Sk0wSZWkw7IUyXFHcG8w
OLeSrgRW5QuHNc1MpCSq0/8+kdJ+DqNGVl9e/aqDXfq08vaH4VODfCEwUCSIqakl
phKmauKPeetv7qYckiPamaNt1A==
-----END PRIVATE KEY-----
"""
    static let spkiPublicPEM = """
-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAovLoXzMqt7zzs+uyVphk
sRorHkEmjNvQGeJ+QscnhOYydu+wejKtJtSty3pnEX2keJsvLrlm+Ng61njjhi1L
kQVfhoITb4Hd1M4s846ylter8VJK4xRmmwpsfNYPAOr/uzYKxcLxX0rO5Zha9mLS
fFacg+rgpaIA1PzBqVFEPwrlQttJu5tw1Jaky3Up5hbKVBc9Ea6T72yewe3eoXqY
G/TUhaKuFkCakvx6kjwQpjcikawEPIxjmCdh6cwcJc/lvKac2gpf4q02gyJmFreB
lNM0DEGJJ3EgKD44+pvothSySXEf07eLwhkMhTWaI00K2jUsfN/1/3xyhUWNykvz
yQIDAQAB
-----END PUBLIC KEY-----
"""
    static let pkcs1PublicPEM = """
-----BEGIN RSA PUBLIC KEY-----
MIIBCgKCAQEAovLoXzMqt7zzs+uyVphksRorHkEmjNvQGeJ+QscnhOYydu+wejKt
JtSty3pnEX2keJsvLrlm+Ng61njjhi1LkQVfhoITb4Hd1M4s846ylter8VJK4xRm
mwpsfNYPAOr/uzYKxcLxX0rO5Zha9mLSfFacg+rgpaIA1PzBqVFEPwrlQttJu5tw
1Jaky3Up5hbKVBc9Ea6T72yewe3eoXqYG/TUhaKuFkCakvx6kjwQpjcikawEPIxj
mCdh6cwcJc/lvKac2gpf4q02gyJmFreBlNM0DEGJJ3EgKD44+pvothSySXEf07eL
whkMhTWaI00K2jUsfN/1/3xyhUWNykvzyQIDAQAB
-----END RSA PUBLIC KEY-----
"""
    /// A 1024-bit key (`openssl genrsa -traditional 1024`), only to check it is refused.
    static let smallPrivatePEM = """
-----BEGIN RSA PRIVATE KEY-----
MIICXAIBAAKBgQDAkvZyLkfT0p6GedlOWhL/z5AQSjuO4RueB0oOZbiCLEMWPCTw
yOtPlwpK+k4Fjiq9rfHUVyY+uc9LmSDrkSdN1UmXCgXEtam/ss167BTeoNgLm0Rp
VVUSj937WsxgyUtn60F3bdFiYKOnyp6B45SPBLDYoYHrJKV+XKqiglMNvQIDAQAB
AoGAU85hVDWR6rxJYwqaKIAIrq086+nyW27Z3v8bGoLoNjZfB8kq5mL6DQwVXaXq
2H4TWbLegGNg8IFalnLQodPsvy8a9XtJOnxdedZCc7Oa03n4heEGe5ULISEpsaU3
XvDVqMgqTj0ulnJQ2JaiwEcfwkiUZo8yQQbsj9bOmQe5xIECQQD5RfoupRR6CfGW
w9RHe7IVoGKWcF77bxCw3aaiVZ1seNHRzOIHh9Vr2HWg7zM1d1M/FbcUth0tYP8F
r/XVh2xdAkEAxcVMEnlY21KhBresyCyAtADvlP65XcvsBXJH7khtrWb/EIPCE7Fz
BqBIhrv7ZPg/1b0IFIWA9eXgT7tVXTMQ4QJAQC5eTig+73Uj+PeO7qDQp3TWLXnd
Wsur9n37a4yzrbwl+ejQwbOdpdjj4H32J2wDyRhkPTbuqEJzJxm5KDNoGQJAD+BH
vA/rtyeJ760c/LC94DVXBkHwhXwSRVmoNpOv4kSrYxsAoG4VSsnhKJe8lZ1sGm9j
T6pr8NF0UVI7hxDLYQJBAKeUYf8Bus80FvavgOtv4r+jjJ7JwRRx3qj5gNgdb8HR
pNKwGJFj6i5UKg+vbmKykOkvzUlMy1h6Ed/eSZbDanI=
-----END RSA PRIVATE KEY-----
"""

    static func privateKey() throws -> RSAPrivateKey {
        try RSAPrivateKey(pemRepresentation: pkcs1PrivatePEM)
    }
}

@Suite(.timeLimit(.minutes(2))) struct RSAKeyTests {
    @Test func loadsPKCS1AndPKCS8PrivateKeysAsTheSameKey() throws {
        let pkcs1 = try RSAPrivateKey(pemRepresentation: CryptoFixtures.pkcs1PrivatePEM)
        let pkcs8 = try RSAPrivateKey(pemRepresentation: CryptoFixtures.pkcs8PrivatePEM)
        #expect(pkcs1.publicKey == pkcs8.publicKey)
        #expect(pkcs1.keySizeInBits == 2048)
        #expect(pkcs8.pemRepresentation.hasPrefix("-----BEGIN RSA PRIVATE KEY-----"))
        #expect(pkcs8.pemRepresentation.trimmingCharacters(in: .whitespacesAndNewlines)
            == CryptoFixtures.pkcs1PrivatePEM)
    }

    @Test func loadsSPKIAndPKCS1PublicKeysAsTheSameKey() throws {
        let spki = try RSAPublicKey(pemRepresentation: CryptoFixtures.spkiPublicPEM)
        let pkcs1 = try RSAPublicKey(pemRepresentation: CryptoFixtures.pkcs1PublicPEM)
        #expect(spki == pkcs1)
        #expect(Set([spki, pkcs1]).count == 1)
        #expect(try CryptoFixtures.privateKey().publicKey == spki)
        #expect(pkcs1.pemRepresentation.trimmingCharacters(in: .whitespacesAndNewlines)
            == CryptoFixtures.spkiPublicPEM)
    }

    @Test func refusesWrongDocumentsWithTypedErrors() {
        #expect(throws: CryptoKeyError.notPEMPrivateKey) { try RSAPrivateKey(pemRepresentation: "hello") }
        #expect(throws: CryptoKeyError.notPEMPrivateKey) {
            try RSAPrivateKey(pemRepresentation: CryptoFixtures.spkiPublicPEM)
        }
        #expect(throws: CryptoKeyError.notPEMPublicKey) {
            try RSAPublicKey(pemRepresentation: CryptoFixtures.pkcs1PrivatePEM)
        }
        #expect(throws: CryptoKeyError.notPEMPublicKey) { try RSAPublicKey(pemRepresentation: "") }
        #expect(throws: CryptoKeyError.encryptedPrivateKey) {
            try RSAPrivateKey(pemRepresentation: """
                -----BEGIN RSA PRIVATE KEY-----
                Proc-Type: 4,ENCRYPTED
                DEK-Info: AES-128-CBC,6ABB0A2FD3DCA79FC6B3C2105310C689

                AAAA
                -----END RSA PRIVATE KEY-----
                """)
        }
        #expect(throws: CryptoKeyError.encryptedPrivateKey) {
            try RSAPrivateKey(pemRepresentation: "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----")
        }
        #expect(throws: CryptoKeyError.keyTooSmall(bits: 1024)) {
            try RSAPrivateKey(pemRepresentation: CryptoFixtures.smallPrivatePEM)
        }
        do {
            _ = try RSAPrivateKey(pemRepresentation: "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----")
            Issue.record("garbage key loaded")
        } catch {
            guard case .invalidKey = error else { Issue.record("unexpected \(error)"); return }
            #expect(error.description.hasPrefix("invalid RSA key"))
        }
        #expect(CryptoKeyError.notPEMPrivateKey.description == "not a PEM RSA private key")
    }

    @Test func generatedKeyRoundTripsThroughPEMAndSigns() throws {
        let key = try RSAPrivateKey.generate()
        #expect(key.keySizeInBits == 2048)
        let reloaded = try RSAPrivateKey(pemRepresentation: key.pemRepresentation)
        #expect(reloaded.publicKey == key.publicKey)
        let pkcs8 = try RSAPrivateKey(pemRepresentation: key.pkcs8PEMRepresentation)
        #expect(pkcs8.publicKey == key.publicKey)
        let publicKey = try RSAPublicKey(pemRepresentation: key.publicKey.pemRepresentation)
        #expect(publicKey == key.publicKey)

        let data = Array("some data".utf8)
        let signature = try key.signSHA256(data)
        #expect(signature.count == 256)
        #expect(publicKey.verifySHA256(signature: signature, for: data))
        #expect(!publicKey.verifySHA256(signature: signature, for: data + [0]))
        #expect(!(try CryptoFixtures.privateKey().publicKey.verifySHA256(signature: signature, for: data)))
        let sha1Signature = try key.signSHA1(data)
        #expect(publicKey.verifySHA1(signature: sha1Signature, for: data))
        #expect(!publicKey.verifySHA256(signature: sha1Signature, for: data))
    }

    @Test func rawPrivateEncryptMatchesOpenSSLAndPublicDecryptInverts() throws {
        let key = try CryptoFixtures.privateKey()
        // `printf hello | openssl rsautl -sign -inkey key.pem` is deterministic; pinned via the
        // longer known answers in SigningTests / FramingTests. Here: inverse and limits.
        let message = Array("hello".utf8)
        let encrypted = try key.privateEncryptRaw(message)
        #expect(encrypted.count == 256)
        #expect(try key.privateEncryptRaw(message) == encrypted)
        #expect(key.publicKey.publicDecryptRaw(encrypted) == message)
        #expect(try key.privateEncryptRaw([]).count == 256)
        #expect(key.publicKey.publicDecryptRaw(try key.privateEncryptRaw([])) == [])

        let other = try RSAPrivateKey.generate()
        #expect(other.publicKey.publicDecryptRaw(encrypted) == nil)
        #expect(key.publicKey.publicDecryptRaw(Array(encrypted.dropLast())) == nil)
        #expect(key.publicKey.publicDecryptRaw([UInt8](repeating: 0x55, count: 256)) == nil)

        #expect(key.maximumRawInputLength == 245)
        #expect(try key.privateEncryptRaw([UInt8](repeating: 1, count: 245)).count == 256)
        #expect(throws: CryptoKeyError.inputTooLong(length: 246, maximum: 245)) {
            try key.privateEncryptRaw([UInt8](repeating: 1, count: 246))
        }
    }

    @Test func pkcs1EncryptionRoundTripsAndDecryptsOpenSSLCiphertext() throws {
        let key = try CryptoFixtures.privateKey()
        let plaintext = Array("pushy session key 0123456789abcd".utf8)
        let ciphertext = try key.publicKey.encryptPKCS1(plaintext)
        #expect(ciphertext.count == 256)
        #expect(try key.decryptPKCS1(ciphertext) == plaintext)
        // printf 'pushy session key 0123456789abcd' | openssl pkeyutl -encrypt -pubin -inkey pub.pem \
        //   -pkeyopt rsa_padding_mode:pkcs1 | base64 -w0
        let fromOpenSSL = try #require(Data(base64Encoded: "N6GDKMeScat/6sO6ylgMDCz+ok18RqH7ewyxKNP0+hTzWrGRwZSnsldYMn8ezDJMi13ECyxm9RB+dYjZbHpPp7iBQI41+bC9vbaqd27aSOLZf5pWXXw76xfm7PQ/OkefoBNfUlhvh+JQodQsvhdcC0wcSEmaOh+xJBczup1syV2YbdjI+lGXbZ52IMgpmW3T+aChDBArUf/x6rGI0KJNFBAUBakzr+10/1lPZS7Fnvf/hCqPhaw5paycUXzHmW3iC5SW3sXGYZkHM8vV4Uku6x35u2rjHTRoqh+r1CdFPEkIEUXBCL3GQUJUcHIwDo20SMywvVVFnvXy/fiAD9Ee/A=="))
        #expect(try key.decryptPKCS1([UInt8](fromOpenSSL)) == plaintext)

        let other = try RSAPrivateKey.generate()
        #expect(throws: CryptoKeyError.decryptionFailed) { try other.decryptPKCS1(ciphertext) }
        #expect(throws: CryptoKeyError.self) { try key.publicKey.encryptPKCS1([UInt8](repeating: 0, count: 246)) }
    }
}
