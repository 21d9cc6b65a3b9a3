using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Engine.Auth;

/// <summary>
/// Loads a sign-in certificate the ways users hold one (PFX/PKCS#12 with a password, PEM certificate with its
/// key in the same file or another one, PKCS#8 or PKCS#1/SEC1 keys, encrypted PKCS#8, the certificate store)
/// and checks it before any network call. Messages name the file or thumbprint, never the password or key.
/// </summary>
public static class CertificateLoader
{
    /// <summary>Loads a PFX/P12 or PEM file; <paramref name="privateKeyPath"/> is for a PEM key in its own file.</summary>
    public static X509Certificate2 LoadFromFile(string path, SecureString? password = null, string? privateKeyPath = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new EngineException(EngineErrorKind.FileNotFound, $"The certificate file '{path}' was not found.") { FilePath = path };
        }

        if (privateKeyPath is not null && !File.Exists(privateKeyPath))
        {
            throw new EngineException(EngineErrorKind.FileNotFound, $"The private key file '{privateKeyPath}' was not found.") { FilePath = privateKeyPath };
        }

        byte[] bytes = File.ReadAllBytes(path);
        return IsPem(bytes)
            ? LoadPem(path, Encoding.UTF8.GetString(bytes), password, privateKeyPath)
            : LoadPfx(path, bytes, password, privateKeyPath);
    }

    /// <summary>
    /// Finds a certificate by SHA-1 thumbprint in CurrentUser\My, then (on Windows) LocalMachine\My.
    /// </summary>
    public static X509Certificate2 FindInStore(string thumbprint)
    {
        string normalized = NormalizeThumbprint(thumbprint);
        var searched = new List<string>();
        foreach (StoreLocation location in StoreLocations())
        {
            searched.Add($@"{location}\My");
            using var store = new X509Store(StoreName.My, location);
            try
            {
                store.Open(OpenFlags.ReadOnly | OpenFlags.OpenExistingOnly);
            }
            catch (CryptographicException)
            {
                continue; // the store does not exist for this user: nothing to find there
            }

            X509Certificate2Collection all = store.Certificates;
            X509Certificate2Collection found = all.Find(X509FindType.FindByThumbprint, normalized, validOnly: false);
            X509Certificate2? match = found.Count > 0 ? found[0] : null;
            foreach (X509Certificate2 c in all)
            {
                if (!ReferenceEquals(c, match))
                {
                    c.Dispose();
                }
            }

            if (match is not null)
            {
                return match;
            }
        }

        throw new EngineException(
            EngineErrorKind.CertificateNotFound,
            $"No certificate with thumbprint {normalized} was found in the certificate store ({string.Join(", ", searched)}).");
    }

    /// <summary>
    /// Checks what Entra ID will check, before any network call: a private key that can sign, an RSA key
    /// (Entra accepts RS256/PS256 client assertions only), and a validity period that includes <paramref name="now"/>.
    /// </summary>
    public static void Validate(X509Certificate2 certificate, string source, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        string what = $"The certificate {source} (subject '{certificate.Subject}', thumbprint {certificate.Thumbprint})";
        if (!certificate.HasPrivateKey)
        {
            throw new EngineException(
                EngineErrorKind.CertificateInvalid,
                $"{what} has no private key. Give a PFX that includes the key, a PEM file holding certificate and key, or -PrivateKeyPath.");
        }

        DateTimeOffset notBefore = new(certificate.NotBefore.ToUniversalTime(), TimeSpan.Zero);
        DateTimeOffset notAfter = new(certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero);
        if (now > notAfter)
        {
            throw new EngineException(
                EngineErrorKind.CertificateInvalid,
                $"{what} expired on {notAfter.ToString("u", CultureInfo.InvariantCulture)}. Register and use a current certificate.");
        }

        if (now < notBefore)
        {
            throw new EngineException(
                EngineErrorKind.CertificateInvalid,
                $"{what} is not valid before {notBefore.ToString("u", CultureInfo.InvariantCulture)}.");
        }

        using RSA? rsa = TryGetRsaPrivateKey(certificate, what);
        if (rsa is null)
        {
            string algorithm = certificate.GetECDsaPublicKey() is null ? certificate.PublicKey.Oid.FriendlyName ?? certificate.PublicKey.Oid.Value ?? "unknown" : "EC (ECDSA)";
            throw new EngineException(
                EngineErrorKind.CertificateInvalid,
                $"{what} has an {algorithm} key; Entra ID accepts client assertions signed with RSA keys only (RS256/PS256). Use an RSA certificate of at least 2048 bits.");
        }

        if (rsa.KeySize < 2048)
        {
            throw new EngineException(
                EngineErrorKind.CertificateInvalid,
                $"{what} has a {rsa.KeySize}-bit RSA key; Entra ID requires at least 2048 bits.");
        }

        try
        {
            rsa.SignData([1, 2, 3], HashAlgorithmName.SHA256, RSASignaturePadding.Pss);
        }
        catch (CryptographicException e)
        {
            throw new EngineException(EngineErrorKind.CertificateInvalid, $"{what} has a private key that cannot sign: {e.Message}", e);
        }
    }

    /// <summary>Upper-case hex without spaces or colons; 40 hex digits (SHA-1) expected.</summary>
    public static string NormalizeThumbprint(string thumbprint)
    {
        ArgumentNullException.ThrowIfNull(thumbprint);
        var sb = new StringBuilder(thumbprint.Length);
        foreach (char c in thumbprint)
        {
            if (c is ' ' or ':' or '-' or '\u200e')
            {
                continue;
            }

            sb.Append(char.ToUpperInvariant(c));
        }

        string result = sb.ToString();
        if (result.Length != 40 || !IsHex(result))
        {
            throw new EngineException(
                EngineErrorKind.InvalidArgument,
                $"'{thumbprint}' is not a certificate thumbprint: expected 40 hexadecimal digits (the SHA-1 thumbprint).");
        }

        return result;
    }

    private static bool IsHex(string s)
    {
        foreach (char c in s)
        {
            if (!char.IsAsciiHexDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    private static IEnumerable<StoreLocation> StoreLocations()
    {
        yield return StoreLocation.CurrentUser;
        if (OperatingSystem.IsWindows())
        {
            yield return StoreLocation.LocalMachine;
        }
    }

    private static RSA? TryGetRsaPrivateKey(X509Certificate2 certificate, string what)
    {
        try
        {
            return certificate.GetRSAPrivateKey();
        }
        catch (CryptographicException e)
        {
            throw new EngineException(EngineErrorKind.CertificateInvalid, $"{what}: its private key cannot be used: {e.Message}", e);
        }
    }

    private static bool IsPem(byte[] bytes)
    {
        // PEM is text with "-----BEGIN"; a PFX is DER and starts with a SEQUENCE tag (0x30).
        ReadOnlySpan<byte> span = bytes;
        return span.IndexOf("-----BEGIN "u8) >= 0;
    }

    private static X509KeyStorageFlags KeyFlags()
        => OperatingSystem.IsMacOS() ? X509KeyStorageFlags.DefaultKeySet : X509KeyStorageFlags.EphemeralKeySet;

    private static X509Certificate2 LoadPfx(string path, byte[] bytes, SecureString? password, string? privateKeyPath)
    {
        if (privateKeyPath is not null)
        {
            throw new EngineException(
                EngineErrorKind.InvalidArgument,
                $"-PrivateKeyPath applies to a PEM certificate; '{path}' is not PEM text (a PFX/PKCS#12 file carries its own key).") { FilePath = path };
        }

        try
        {
            return password is null
                ? new X509Certificate2(bytes, (string?)null, KeyFlags())
                : new X509Certificate2(bytes, password, KeyFlags());
        }
        catch (CryptographicException e)
        {
            string hint = password is null
                ? "the file needs a password or is not a PFX/PKCS#12 or PEM file"
                : "the password is wrong or the file is not a PFX/PKCS#12 or PEM file";
            throw new EngineException(EngineErrorKind.CertificateInvalid, $"The certificate file '{path}' could not be opened: {hint}.", e)
            {
                FilePath = path,
                Advice = password is null ? EngineAdvice.GiveCertificatePassword : EngineAdvice.None,
            };
        }
    }

    private static X509Certificate2 LoadPem(string path, string certText, SecureString? password, string? privateKeyPath)
    {
        if (!certText.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
        {
            throw new EngineException(
                EngineErrorKind.CertificateInvalid,
                $"The PEM file '{path}' holds no certificate (no BEGIN CERTIFICATE block); give the certificate file as -CertificatePath and the key as -PrivateKeyPath.") { FilePath = path };
        }

        string keySource = privateKeyPath ?? path;
        string keyText = privateKeyPath is null ? certText : File.ReadAllText(privateKeyPath);
        if (!keyText.Contains("PRIVATE KEY-----", StringComparison.Ordinal))
        {
            // A certificate without key: load it anyway so validation names it precisely.
            if (privateKeyPath is not null)
            {
                throw new EngineException(
                    EngineErrorKind.CertificateInvalid,
                    $"The private key file '{privateKeyPath}' holds no PEM private key (PRIVATE KEY, RSA PRIVATE KEY, EC PRIVATE KEY or ENCRYPTED PRIVATE KEY).") { FilePath = privateKeyPath };
            }

            try
            {
                return X509Certificate2.CreateFromPem(certText);
            }
            catch (CryptographicException e)
            {
                throw new EngineException(EngineErrorKind.CertificateInvalid, $"The PEM certificate in '{path}' could not be read: {e.Message}", e) { FilePath = path };
            }
        }

        bool encrypted = keyText.Contains("-----BEGIN ENCRYPTED PRIVATE KEY-----", StringComparison.Ordinal);
        if (encrypted && password is null)
        {
            throw new EngineException(
                EngineErrorKind.CertificateInvalid,
                $"The private key in '{keySource}' is encrypted; its password is needed.") { FilePath = keySource, Advice = EngineAdvice.GiveCertificatePassword };
        }

        try
        {
            X509Certificate2 ephemeral;
            if (encrypted)
            {
                char[] chars = new char[password!.Length];
                IntPtr p = Marshal.SecureStringToGlobalAllocUnicode(password);
                try
                {
                    Marshal.Copy(p, chars, 0, chars.Length);
                    ephemeral = X509Certificate2.CreateFromEncryptedPem(certText, keyText, chars);
                }
                finally
                {
                    Marshal.ZeroFreeGlobalAllocUnicode(p);
                    Array.Clear(chars);
                }
            }
            else
            {
                ephemeral = X509Certificate2.CreateFromPem(certText, keyText);
            }

            return ephemeral;
        }
        catch (CryptographicException e)
        {
            string hint = encrypted
                ? "the password is wrong, the key does not belong to the certificate, or the key format is not supported"
                : "the key does not belong to the certificate or its format is not supported (PKCS#8, PKCS#1 RSA, SEC1 EC are)";
            throw new EngineException(EngineErrorKind.CertificateInvalid, $"The certificate '{path}' and private key '{keySource}' could not be loaded: {hint}. {e.Message}", e) { FilePath = keySource };
        }
        catch (ArgumentException e)
        {
            throw new EngineException(EngineErrorKind.CertificateInvalid, $"The certificate '{path}' and private key '{keySource}' could not be read: {e.Message}", e) { FilePath = keySource };
        }
    }
}
