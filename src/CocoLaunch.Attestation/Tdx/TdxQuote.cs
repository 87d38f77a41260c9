using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using CocoLaunch.Attestation.Certificates;

namespace CocoLaunch.Attestation.Tdx;

/// <summary>
/// A TDX quote, version 4 or 5, with a TD quote body 1.0 or 1.5 (tdx-mrtd.md §9): the header, the body a relying
/// party reads (MRTD, RTMRs, attributes, report data), and the ECDSA-256 signature data with the quoting enclave's
/// report and the PCK chain that certifies it.
/// </summary>
public sealed class TdxQuote
{
    public const int HeaderSize = 48, Body10Size = 584, Body15Size = 648, QeReportSize = 384;
    public const ushort AttestationKeyEcdsaP256 = 2;
    public const uint TeeTypeTdx = 0x81;

    /// <summary>Intel's quoting enclave vendor id.</summary>
    public static readonly byte[] IntelQeVendorId = Convert.FromHexString("939a7233f79c4ca9940a0db3957f0607");

    /// <summary>Offsets in the TD quote body.</summary>
    public static class Body
    {
        public const int TeeTcbSvn = 0x000, MrSeam = 0x010, MrSignerSeam = 0x040, SeamAttributes = 0x070, TdAttributes = 0x078, Xfam = 0x080;
        public const int Mrtd = 0x088, MrConfigId = 0x0B8, MrOwner = 0x0E8, MrOwnerConfig = 0x118, Rtmr0 = 0x148, ReportData = 0x208;

        /// <summary>TD quote body 1.5 only: the TEE TCB SVN of the TDX module the TD would be relaunched on, and MRSERVICETD.</summary>
        public const int TeeTcbSvn2 = 0x248, MrServiceTd = 0x258;
    }

    private TdxQuote(byte[] bytes) => Bytes = bytes;

    public byte[] Bytes { get; }

    public ushort Version => BinaryPrimitives.ReadUInt16LittleEndian(Bytes);

    /// <summary>What the signature covers: the header, the v5 body descriptor, the body.</summary>
    public ReadOnlyMemory<byte> SignedPart { get; private set; }

    public ReadOnlyMemory<byte> BodyBytes { get; private set; }

    public ReadOnlyMemory<byte> Signature { get; private set; }

    public ReadOnlyMemory<byte> AttestationKey { get; private set; }

    /// <summary>The quoting enclave's SGX report, signed by the PCK key.</summary>
    public QeReport QeReport { get; private set; } = null!;

    public ReadOnlyMemory<byte> QeReportSignature { get; private set; }

    public ReadOnlyMemory<byte> QeAuthData { get; private set; }

    /// <summary>The PCK chain as the quote carries it (certification data type 5: PEM, leaf first).</summary>
    public string PckChainPem { get; private set; } = string.Empty;

    /// <summary>Zero bytes after the signature data: the quote buffer of the TDX guest driver is larger than the quote, and tools write it whole. They are not signed.</summary>
    public int Padding { get; private set; }

    /// <summary>True for a TD quote body 1.5 (v5 body type 3), which carries TEE_TCB_SVN2 and MRSERVICETD.</summary>
    public bool IsBody15 => BodyBytes.Length == Body15Size;

    public ReadOnlySpan<byte> TeeTcbSvn => BodyBytes.Span.Slice(Body.TeeTcbSvn, 16);

    public ReadOnlySpan<byte> TeeTcbSvn2 => IsBody15 ? BodyBytes.Span.Slice(Body.TeeTcbSvn2, 16) : [];

    public ReadOnlySpan<byte> MrSignerSeam => BodyBytes.Span.Slice(Body.MrSignerSeam, 48);

    public ReadOnlySpan<byte> SeamAttributes => BodyBytes.Span.Slice(Body.SeamAttributes, 8);

    public ReadOnlySpan<byte> Mrtd => BodyBytes.Span.Slice(Body.Mrtd, 48);

    public ulong TdAttributes => BinaryPrimitives.ReadUInt64LittleEndian(BodyBytes.Span[Body.TdAttributes..]);

    public ReadOnlySpan<byte> ReportData => BodyBytes.Span.Slice(Body.ReportData, 64);

    public ReadOnlySpan<byte> Rtmr(int i) => BodyBytes.Span.Slice(Body.Rtmr0 + (48 * i), 48);

    /// <summary>Reads a quote; anything malformed is an <see cref="EvidenceFormatException"/> naming the offset.</summary>
    public static TdxQuote Parse(byte[] bytes, string name)
    {
        var q = new TdxQuote(bytes);
        var s = bytes.AsSpan();
        Need(s, HeaderSize, name, "the header");
        ushort version = q.Version;
        if (version is not (4 or 5))
        {
            throw new EvidenceFormatException($"{name}: quote version {version} at offset 0x0 is not 4 or 5");
        }

        if (BinaryPrimitives.ReadUInt16LittleEndian(s[2..]) != AttestationKeyEcdsaP256 || BinaryPrimitives.ReadUInt32LittleEndian(s[4..]) != TeeTypeTdx)
        {
            throw new EvidenceFormatException($"{name}: not a TDX quote with an ECDSA-256 attestation key (key type at 0x2, TEE type at 0x4)");
        }

        int bodyAt = HeaderSize, bodySize = Body10Size;
        if (version == 5)
        {
            Need(s, HeaderSize + 6, name, "the body descriptor");
            ushort type = BinaryPrimitives.ReadUInt16LittleEndian(s[HeaderSize..]);
            bodySize = (int)BinaryPrimitives.ReadUInt32LittleEndian(s[(HeaderSize + 2)..]);
            if ((type, bodySize) is not ((2, Body10Size) or (3, Body15Size)))
            {
                throw new EvidenceFormatException($"{name}: body descriptor at 0x30 says type {type}, size {bodySize}: not a TDX 1.0 (2, 584) or 1.5 (3, 648) body");
            }

            bodyAt = HeaderSize + 6;
        }

        int lengthAt = bodyAt + bodySize;
        Need(s, lengthAt + 4, name, "the body");
        q.SignedPart = bytes.AsMemory(0, lengthAt);
        q.BodyBytes = bytes.AsMemory(bodyAt, bodySize);
        int sigLength = (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(s[lengthAt..]), int.MaxValue);
        int at = lengthAt + 4;
        if ((long)at + sigLength > bytes.Length)
        {
            throw new EvidenceFormatException($"{name}: the signature data length at 0x{lengthAt:x} is {sigLength}, but {bytes.Length - at} bytes follow it");
        }

        int end = at + sigLength;
        if (s[end..].IndexOfAnyExcept((byte)0) is >= 0 and int stray)
        {
            throw new EvidenceFormatException($"{name}: the signature data (length {sigLength} at 0x{lengthAt:x}) ends at 0x{end:x}, but byte 0x{end + stray:x} after it is not zero padding");
        }

        q.ReadSignatureData(bytes.AsMemory(0, end).ToArray(), at, name);
        q.Padding = bytes.Length - end;
        return q;
    }

    private void ReadSignatureData(byte[] bytes, int at, string name)
    {
        var s = bytes.AsSpan();
        Need(s, at + 64 + 64 + 6, name, "the signature and attestation key");
        Signature = bytes.AsMemory(at, 64);
        AttestationKey = bytes.AsMemory(at + 64, 64);
        int c = at + 128;
        ushort type = BinaryPrimitives.ReadUInt16LittleEndian(s[c..]);
        int size = (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(s[(c + 2)..]), int.MaxValue);
        if (type != 6)
        {
            throw new EvidenceFormatException($"{name}: certification data type {type} at 0x{c:x} is not 6 (QE report certification data)");
        }

        int d = c + 6;
        Need(s, d + QeReportSize + 64 + 2, name, "the QE report");
        QeReport = new QeReport(bytes.AsMemory(d, QeReportSize));
        QeReportSignature = bytes.AsMemory(d + QeReportSize, 64);
        int authAt = d + QeReportSize + 64;
        int authSize = BinaryPrimitives.ReadUInt16LittleEndian(s[authAt..]);
        Need(s, authAt + 2 + authSize + 6, name, "the QE auth data");
        QeAuthData = bytes.AsMemory(authAt + 2, authSize);
        int n = authAt + 2 + authSize;
        ushort nestedType = BinaryPrimitives.ReadUInt16LittleEndian(s[n..]);
        int nestedSize = (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(s[(n + 2)..]), int.MaxValue);
        if (nestedType != 5)
        {
            throw new EvidenceFormatException($"{name}: certification data type {nestedType} at 0x{n:x} is not 5 (the PCK certificate chain)");
        }

        Need(s, n + 6 + nestedSize, name, "the PCK certificate chain");
        if (n + 6 + nestedSize != d + size)
        {
            throw new EvidenceFormatException($"{name}: the QE certification data at 0x{c:x} is {size} bytes, but its parts add up to {n + 6 + nestedSize - d}");
        }

        PckChainPem = Encoding.ASCII.GetString(bytes, n + 6, nestedSize).TrimEnd('\0');
    }

    /// <summary>The certificates of the PCK chain, leaf first.</summary>
    public IReadOnlyList<X509Certificate2> PckChain(string name) => PemCertificates.Read(PckChainPem, $"{name}: the PCK certificate chain");

    private static void Need(ReadOnlySpan<byte> s, long end, string name, string what)
    {
        if (s.Length < end)
        {
            throw new EvidenceFormatException($"{name}: {s.Length} bytes end inside {what} (needs {end})");
        }
    }

    /// <summary>
    /// Quotes a TDREPORT as a quoting enclave would (v4, body 1.0): the body from the report, signed with the
    /// attestation key; the QE report binds that key and is signed by the PCK key; the PCK chain goes along.
    /// </summary>
    public static byte[] Build(ReadOnlySpan<byte> tdReport, ECDsa attestationKey, ECDsa pckKey, string pckChainPem, ReadOnlySpan<byte> qeReportTemplate)
    {
        var header = new byte[HeaderSize];
        BinaryPrimitives.WriteUInt16LittleEndian(header, 4);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(2), AttestationKeyEcdsaP256);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), TeeTypeTdx);
        IntelQeVendorId.CopyTo(header, 0x0C);
        var body = BodyFromReport(tdReport);

        var q = attestationKey.ExportParameters(false).Q;
        byte[] attKey = [.. q.X!, .. q.Y!];
        byte[] auth = [.. Enumerable.Range(0, 32).Select(i => (byte)i)];
        var qeReport = qeReportTemplate.ToArray();
        SHA256.HashData([.. attKey, .. auth]).CopyTo(qeReport, 0x140);
        qeReport.AsSpan(0x160, 32).Clear();

        byte[] signed = [.. header, .. body];
        var sig = attestationKey.SignData(signed, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        var qeSig = pckKey.SignData(qeReport, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        var chain = Encoding.ASCII.GetBytes(pckChainPem);

        var cert = new List<byte>();
        cert.AddRange(qeReport);
        cert.AddRange(qeSig);
        cert.AddRange(U16((ushort)auth.Length));
        cert.AddRange(auth);
        cert.AddRange(U16(5));
        cert.AddRange(U32((uint)chain.Length));
        cert.AddRange(chain);

        var sigData = new List<byte>();
        sigData.AddRange(sig);
        sigData.AddRange(attKey);
        sigData.AddRange(U16(6));
        sigData.AddRange(U32((uint)cert.Count));
        sigData.AddRange(cert);
        return [.. signed, .. U32((uint)sigData.Count), .. sigData];
    }

    private static byte[] BodyFromReport(ReadOnlySpan<byte> r)
    {
        if (r.Length != Firmware.Tdx.TdReport.Size)
        {
            throw new ArgumentException($"a TDREPORT is {Firmware.Tdx.TdReport.Size} bytes, not {r.Length}", nameof(r));
        }

        const int tcb = Firmware.Tdx.TdReport.TcbInfo.Offset, td = Firmware.Tdx.TdReport.TdInfo.Offset;
        var b = new byte[Body10Size];
        r.Slice(tcb + Firmware.Tdx.TdReport.TcbInfo.TeeTcbSvn, 16).CopyTo(b.AsSpan(Body.TeeTcbSvn));
        r.Slice(tcb + Firmware.Tdx.TdReport.TcbInfo.MrSeam, 48).CopyTo(b.AsSpan(Body.MrSeam));
        r.Slice(tcb + Firmware.Tdx.TdReport.TcbInfo.MrSignerSeam, 48).CopyTo(b.AsSpan(Body.MrSignerSeam));
        r.Slice(tcb + Firmware.Tdx.TdReport.TcbInfo.SeamAttributes, 8).CopyTo(b.AsSpan(Body.SeamAttributes));
        // TDATTRIBUTES, XFAM, MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG and RTMR0–3 sit in the same order in both.
        r.Slice(td + Firmware.Tdx.TdReport.TdInfo.Attributes, 0x190).CopyTo(b.AsSpan(Body.TdAttributes));
        r.Slice(Firmware.Tdx.TdReport.Mac.ReportData, 64).CopyTo(b.AsSpan(Body.ReportData));
        return b;
    }

    private static byte[] U16(ushort v) => BitConverter.GetBytes(v);

    private static byte[] U32(uint v) => BitConverter.GetBytes(v);
}
