using System;
using System.Buffers.Binary;
using System.IO;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Threading;
using System.Threading.Tasks;

namespace AzBillingPS.Tests.Sinks;

/// <summary>
/// Just enough of a SQL Server to reach SqlClient's certificate check: it answers PRELOGIN with "encryption on" and
/// runs the server side of the TLS handshake (inside TDS PRELOGIN packets, as TDS 7.x does, or directly on the socket
/// for TDS 8 / Encrypt=Strict) with a self-signed certificate, the way an on-premises SQL Server without a configured
/// certificate does. It never logs anyone in: after the handshake it closes the connection.
/// </summary>
internal sealed class FakeTdsServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly X509Certificate2 _certificate;
    private readonly Task _loop;

    /// <summary>
    /// The self-signed certificate with its key, as PKCS#12: made once for the test run (a 2048-bit RSA key takes a good
    /// part of a second to generate); each server loads its own copy of it.
    /// </summary>
    private static readonly Lazy<byte[]> Pkcs12 = new(() =>
    {
        using RSA key = RSA.Create(2048);
        var request = new CertificateRequest("CN=sql01.fake.test", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(new OidCollection { new Oid("1.3.6.1.5.5.7.3.1") }, false));
        using X509Certificate2 created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return created.Export(X509ContentType.Pkcs12);
    });

    public FakeTdsServer()
    {
        _certificate = X509CertificateLoader.LoadPkcs12(Pkcs12.Value, null);
        _listener.Start();
        _loop = Task.Run(AcceptAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Handshakes that reached the TLS stage.</summary>
    public int TlsAttempts;

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                NetworkStream net = client.GetStream();
                byte[] first = new byte[1];
                if (await net.ReadAsync(first, _stop.Token).ConfigureAwait(false) != 1)
                {
                    return;
                }

                Stream tlsTransport;
                if (first[0] == 0x16)
                {
                    tlsTransport = new PrefixedStream(first[0], net); // TDS 8: TLS from the first byte
                }
                else
                {
                    // TDS 7.x: PRELOGIN, then the TLS handshake wrapped in PRELOGIN packets.
                    byte[] header = new byte[8];
                    header[0] = first[0];
                    await net.ReadExactlyAsync(header.AsMemory(1, 7), _stop.Token).ConfigureAwait(false);
                    int length = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2));
                    await net.ReadExactlyAsync(new byte[length - 8], _stop.Token).ConfigureAwait(false);
                    await net.WriteAsync(PreloginResponse(), _stop.Token).ConfigureAwait(false);
                    tlsTransport = new TdsPacketStream(net);
                }

                Interlocked.Increment(ref TlsAttempts);
                using var ssl = new SslStream(tlsTransport, leaveInnerStreamOpen: true);
                await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                {
                    ServerCertificate = _certificate,
                    ApplicationProtocols = first[0] == 0x16 ? new() { new SslApplicationProtocol("tds/8.0") } : null,
                }, _stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or System.Security.Authentication.AuthenticationException or ObjectDisposedException or EndOfStreamException)
            {
                // The client refused the certificate (or went away): that is the point.
            }
        }
    }

    /// <summary>A PRELOGIN answer (TDS type 4): version 16.0, encryption on, no instance, no MARS.</summary>
    private static byte[] PreloginResponse()
    {
        byte[] options =
        {
            0x00, 0x00, 0x10, 0x00, 0x06, // VERSION at 16, 6 bytes
            0x01, 0x00, 0x16, 0x00, 0x01, // ENCRYPTION at 22, 1 byte
            0x02, 0x00, 0x17, 0x00, 0x01, // INSTOPT at 23, 1 byte
            0xFF,
            0x10, 0x00, 0x07, 0xD0, 0x00, 0x00, // 16.0.2000.0
            0x01, // ENCRYPT_ON
            0x00,
        };
        byte[] packet = new byte[8 + options.Length];
        packet[0] = 0x04;
        packet[1] = 0x01; // end of message
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)packet.Length);
        options.CopyTo(packet, 8);
        return packet;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
        _certificate.Dispose();
    }

    /// <summary>TLS records carried in TDS PRELOGIN (0x12) packets, both ways.</summary>
    private sealed class TdsPacketStream(NetworkStream inner) : Stream
    {
        private byte[] _pending = Array.Empty<byte>();
        private int _offset;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_offset >= _pending.Length)
            {
                byte[] header = new byte[8];
                await inner.ReadExactlyAsync(header, cancellationToken).ConfigureAwait(false);
                int length = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2));
                _pending = new byte[length - 8];
                await inner.ReadExactlyAsync(_pending, cancellationToken).ConfigureAwait(false);
                _offset = 0;
            }

            int n = Math.Min(buffer.Length, _pending.Length - _offset);
            _pending.AsMemory(_offset, n).CopyTo(buffer);
            _offset += n;
            return n;
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            byte[] packet = new byte[8 + buffer.Length];
            packet[0] = 0x12;
            packet[1] = 0x01;
            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)packet.Length);
            buffer.CopyTo(packet.AsMemory(8));
            await inner.WriteAsync(packet, cancellationToken).ConfigureAwait(false);
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush() => inner.Flush();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }

    /// <summary>A stream that gives back one byte already read, then the rest.</summary>
    private sealed class PrefixedStream(byte first, NetworkStream inner) : Stream
    {
        private bool _given;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (!_given && buffer.Length > 0)
            {
                _given = true;
                buffer.Span[0] = first;
                return 1;
            }

            return await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => inner.WriteAsync(buffer, cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.WriteAsync(buffer, offset, count, cancellationToken);

        public override void Flush() => inner.Flush();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
