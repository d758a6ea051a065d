import Foundation

/// Throwaway TLS material for tests, made with the openssl CLI.
public enum TestCertificate {
    /// A self-signed certificate for 127.0.0.1 and localhost, valid for a day, written to
    /// `dir/cert.pem` and `dir/key.pem` (the directory is created). Clients trust `cert`.
    public static func selfSigned(in dir: String) throws -> (cert: String, key: String) {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let cert = dir + "/cert.pem", key = dir + "/key.pem"
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        openssl.arguments = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                             "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
        openssl.standardError = FileHandle.nullDevice
        openssl.standardOutput = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        guard openssl.terminationStatus == 0 else { throw HTTPTestClient.ClientError(description: "openssl failed") }
        return (cert, key)
    }
}
