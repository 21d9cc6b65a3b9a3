using System;
using System.IO;
using System.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AzBillingPS.Engine.Auth;
using AzBillingPS.Engine.Common;
using Xunit;

namespace AzBillingPS.Tests.Auth;

/// <summary>
/// The key and certificate the loader tests share: made once for the class (a 2048-bit RSA key takes a good part of a
/// second to generate), never changed by a test.
/// </summary>
public sealed class CertificateLoaderKeys : IDisposable
{
    public CertificateLoaderKeys()
    {
        Rsa = RSA.Create(2048);
        var req = new CertificateRequest("CN=loader-test", Rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        Cert = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(10));
    }

    public RSA Rsa { get; }

    public X509Certificate2 Cert { get; }

    public void Dispose()
    {
        Cert.Dispose();
        Rsa.Dispose();
    }
}

public sealed class CertificateLoaderTests : IDisposable, IClassFixture<CertificateLoaderKeys>
{
    private const string Password = "pfx-pass-4711";
    private readonly string _dir = Directory.CreateTempSubdirectory("azb-cert-").FullName;
    private readonly RSA _rsa;
    private readonly X509Certificate2 _cert;

    public CertificateLoaderTests(CertificateLoaderKeys keys)
    {
        _rsa = keys.Rsa;
        _cert = keys.Cert;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private string WriteBytes(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static SecureString Secure(string s)
    {
        var secure = new SecureString();
        foreach (char c in s)
        {
            secure.AppendChar(c);
        }

        return secure;
    }

    public static TheoryData<string> KeyFormats => new() { "pkcs8", "pkcs1", "encrypted", "combined-pkcs8", "combined-pkcs1" };

    [Theory]
    [MemberData(nameof(KeyFormats))]
    public void Loads_pem_certificate_with_key_in_every_format(string format)
    {
        string certPem = _cert.ExportCertificatePem();
        string key = format switch
        {
            "pkcs1" or "combined-pkcs1" => _rsa.ExportRSAPrivateKeyPem(),
            "encrypted" => _rsa.ExportEncryptedPkcs8PrivateKeyPem(Password, new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 1000)),
            _ => _rsa.ExportPkcs8PrivateKeyPem(),
        };
        X509Certificate2 loaded = format.StartsWith("combined", StringComparison.Ordinal)
            ? CertificateLoader.LoadFromFile(Write("c.pem", certPem + "\n" + key))
            : CertificateLoader.LoadFromFile(Write("c.pem", certPem), format == "encrypted" ? Secure(Password) : null, Write("k.pem", key));

        Assert.Equal(_cert.Thumbprint, loaded.Thumbprint);
        Assert.True(loaded.HasPrivateKey);
        CertificateLoader.Validate(loaded, "test", DateTimeOffset.UtcNow);
    }

    [Fact]
    public void Loads_pfx_with_and_without_password()
    {
        X509Certificate2 a = CertificateLoader.LoadFromFile(WriteBytes("a.pfx", _cert.Export(X509ContentType.Pfx, Password)), Secure(Password));
        X509Certificate2 b = CertificateLoader.LoadFromFile(WriteBytes("b.pfx", _cert.Export(X509ContentType.Pfx)));
        Assert.True(a.HasPrivateKey);
        Assert.True(b.HasPrivateKey);
        Assert.Equal(_cert.Thumbprint, b.Thumbprint);
    }

    [Fact]
    public void Wrong_pfx_password_is_certificate_invalid_without_the_password()
    {
        string path = WriteBytes("a.pfx", _cert.Export(X509ContentType.Pfx, Password));
        var e = Assert.Throws<EngineException>(() => CertificateLoader.LoadFromFile(path, Secure("wrong-" + Password)));
        Assert.Equal(EngineErrorKind.CertificateInvalid, e.Kind);
        Assert.Contains("password is wrong", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, e.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_pem_file_with_the_key_alone_is_refused_and_the_command_says_how_to_give_both_files()
    {
        var e = Assert.Throws<EngineException>(() => CertificateLoader.LoadFromFile(Write("key-only.pem", _rsa.ExportPkcs8PrivateKeyPem()), null));
        Assert.Equal(EngineErrorKind.CertificateInvalid, e.Kind);
        Assert.Contains("holds no certificate (no BEGIN CERTIFICATE block); it may be the private key alone", e.Message, StringComparison.Ordinal);
        Assert.Equal(EngineAdvice.GivePrivateKeyFile, e.Advice); // -CertificatePath and -PrivateKeyPath, in the command's words
    }

    [Fact]
    public void Encrypted_key_without_password_asks_for_it()
    {
        string key = _rsa.ExportEncryptedPkcs8PrivateKeyPem(Password, new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 1000));
        var e = Assert.Throws<EngineException>(() => CertificateLoader.LoadFromFile(Write("c.pem", _cert.ExportCertificatePem()), null, Write("k.pem", key)));
        Assert.Equal(EngineErrorKind.CertificateInvalid, e.Kind);
        Assert.Contains("is encrypted; its password is needed", e.Message, StringComparison.Ordinal);
        Assert.Equal(EngineAdvice.GiveCertificatePassword, e.Advice); // -CertificatePassword, where the command has it
    }

    [Fact]
    public void Missing_files_are_file_not_found()
    {
        Assert.Equal(EngineErrorKind.FileNotFound, Assert.Throws<EngineException>(() => CertificateLoader.LoadFromFile(Path.Combine(_dir, "none.pfx"))).Kind);
        string cert = Write("c.pem", _cert.ExportCertificatePem());
        Assert.Equal(EngineErrorKind.FileNotFound, Assert.Throws<EngineException>(() => CertificateLoader.LoadFromFile(cert, null, Path.Combine(_dir, "none.key"))).Kind);
    }

    [Fact]
    public void Private_key_path_with_a_pfx_is_invalid_argument()
    {
        string pfx = WriteBytes("a.pfx", _cert.Export(X509ContentType.Pfx));
        var e = Assert.Throws<EngineException>(() => CertificateLoader.LoadFromFile(pfx, null, Write("k.pem", _rsa.ExportPkcs8PrivateKeyPem())));
        Assert.Equal(EngineErrorKind.InvalidArgument, e.Kind);
    }

    [Fact]
    public void Validate_rejects_no_key_expired_not_yet_valid_ec_and_small_keys()
    {
        using X509Certificate2 publicOnly = X509CertificateLoader.LoadCertificate(_cert.RawData);
        var noKey = Assert.Throws<EngineException>(() => CertificateLoader.Validate(publicOnly, "x", DateTimeOffset.UtcNow));
        Assert.Contains("no private key", noKey.Message, StringComparison.Ordinal);
        Assert.Equal(EngineAdvice.GivePrivateKeyFile, noKey.Advice); // -PrivateKeyPath, where the command has it
        Assert.Contains("expired on", Assert.Throws<EngineException>(() => CertificateLoader.Validate(_cert, "x", DateTimeOffset.UtcNow.AddDays(20))).Message, StringComparison.Ordinal);
        Assert.Contains("not valid before", Assert.Throws<EngineException>(() => CertificateLoader.Validate(_cert, "x", DateTimeOffset.UtcNow.AddDays(-5))).Message, StringComparison.Ordinal);

        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using X509Certificate2 ecCert = new CertificateRequest("CN=ec", ec, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var e = Assert.Throws<EngineException>(() => CertificateLoader.Validate(ecCert, "x", DateTimeOffset.UtcNow));
        Assert.Equal(EngineErrorKind.CertificateInvalid, e.Kind);
        Assert.Contains("RSA keys only", e.Message, StringComparison.Ordinal);

        // An EC key in SEC1 PEM loads (so the message above is what the user sees), it is not a parse error.
        X509Certificate2 ecLoaded = CertificateLoader.LoadFromFile(Write("ec.pem", ecCert.ExportCertificatePem() + "\n" + ec.ExportECPrivateKeyPem()));
        Assert.True(ecLoaded.HasPrivateKey);

        using var small = RSA.Create(1024);
        using X509Certificate2 smallCert = new CertificateRequest("CN=small", small, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1).CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        Assert.Contains("at least 2048 bits", Assert.Throws<EngineException>(() => CertificateLoader.Validate(smallCert, "x", DateTimeOffset.UtcNow)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Mismatched_key_is_certificate_invalid()
    {
        using var other = RSA.Create(2048);
        var e = Assert.Throws<EngineException>(() => CertificateLoader.LoadFromFile(Write("c.pem", _cert.ExportCertificatePem() + "\n" + other.ExportPkcs8PrivateKeyPem())));
        Assert.Equal(EngineErrorKind.CertificateInvalid, e.Kind);
    }

    [Theory]
    [InlineData("ab cd ef 01 23 45 67 89 ab cd ef 01 23 45 67 89 ab cd ef 01", "ABCDEF0123456789ABCDEF0123456789ABCDEF01")]
    [InlineData("AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01", "ABCDEF0123456789ABCDEF0123456789ABCDEF01")]
    public void Normalizes_thumbprints(string input, string expected) => Assert.Equal(expected, CertificateLoader.NormalizeThumbprint(input));

    [Theory]
    [InlineData("abc")]
    [InlineData("ZZCDEF0123456789ABCDEF0123456789ABCDEF01")]
    public void Rejects_malformed_thumbprints(string input)
        => Assert.Equal(EngineErrorKind.InvalidArgument, Assert.Throws<EngineException>(() => CertificateLoader.NormalizeThumbprint(input)).Kind);
}
