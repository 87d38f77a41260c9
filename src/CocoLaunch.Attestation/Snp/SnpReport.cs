using System.Buffers.Binary;
using System.Security.Cryptography;
using O = CocoLaunch.Firmware.Snp.AttestationReport.Offset;

namespace CocoLaunch.Attestation.Snp;

/// <summary>A parsed ATTESTATION_REPORT (snp-launch-digest.md §12), version 2 to 5, as real hardware or the emulator signs it.</summary>
public sealed class SnpReport
{
    private SnpReport(byte[] bytes) => Bytes = bytes;

    public byte[] Bytes { get; }

    public uint Version => BinaryPrimitives.ReadUInt32LittleEndian(Bytes.AsSpan(O.Version));

    public ulong Policy => BinaryPrimitives.ReadUInt64LittleEndian(Bytes.AsSpan(O.Policy));

    public uint Vmpl => BinaryPrimitives.ReadUInt32LittleEndian(Bytes.AsSpan(O.Vmpl));

    public uint SignatureAlgorithm => BinaryPrimitives.ReadUInt32LittleEndian(Bytes.AsSpan(O.SignatureAlgo));

    public uint KeyInfo => BinaryPrimitives.ReadUInt32LittleEndian(Bytes.AsSpan(O.KeyInfo));

    /// <summary>KEY_INFO bits 4:2: 0 VCEK, 1 VLEK, 7 unsigned.</summary>
    public uint SigningKey => (KeyInfo >> 2) & 7;

    public bool ChipIdMasked => (KeyInfo & 2) != 0;

    public ReadOnlySpan<byte> ReportData => Bytes.AsSpan(O.ReportData, 64);

    public ReadOnlySpan<byte> Measurement => Bytes.AsSpan(O.Measurement, 48);

    public ReadOnlySpan<byte> HostData => Bytes.AsSpan(O.HostData, 32);

    public ReadOnlySpan<byte> ChipId => Bytes.AsSpan(O.ChipId, 64);

    public TcbVersion ReportedTcb => new(BinaryPrimitives.ReadUInt64LittleEndian(Bytes.AsSpan(O.ReportedTcb)));

    public TcbVersion CurrentTcb => new(BinaryPrimitives.ReadUInt64LittleEndian(Bytes.AsSpan(O.CurrentTcb)));

    /// <summary>Reads a report file: exactly 0x4A0 bytes, a version peers understand (2–5).</summary>
    public static SnpReport Parse(byte[] bytes, string name)
    {
        if (bytes.Length != Firmware.Snp.AttestationReport.Size)
        {
            throw new EvidenceFormatException(bytes.Length < Firmware.Snp.AttestationReport.Size
                ? $"{name}: a truncated SNP report of {bytes.Length} bytes, expected 0x4A0 ({Firmware.Snp.AttestationReport.Size})"
                : $"{name}: an SNP report of {bytes.Length} bytes, expected 0x4A0 ({Firmware.Snp.AttestationReport.Size}): {bytes.Length - Firmware.Snp.AttestationReport.Size} bytes follow it");
        }

        var report = new SnpReport(bytes);
        return report.Version is >= 2 and <= 5
            ? report
            : throw new EvidenceFormatException($"{name}: report version {report.Version} at offset 0x0 is not 2 to 5");
    }

    /// <summary>ECDSA P-384 over SHA-384 of bytes 0x000–0x29F; R and S are 72-byte little-endian fields.</summary>
    public bool SignatureVerifies(ECDsa vcek)
    {
        var rs = new byte[96];
        for (int i = 0; i < 48; i++)
        {
            rs[47 - i] = Bytes[O.Signature + i];
            rs[95 - i] = Bytes[O.Signature + 72 + i];
        }

        bool padded = Bytes.AsSpan(O.Signature + 48, 24).IndexOfAnyExcept((byte)0) < 0 && Bytes.AsSpan(O.Signature + 72 + 48, 24).IndexOfAnyExcept((byte)0) < 0;
        return padded && vcek.VerifyData(Bytes.AsSpan(0, Firmware.Snp.AttestationReport.SignedBytes), rs, HashAlgorithmName.SHA384, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }
}

/// <summary>TCB_VERSION in the Milan/Genoa layout: boot loader, TEE, SNP and microcode SPLs (snp-launch-digest.md §12.3).</summary>
public readonly record struct TcbVersion(ulong Raw)
{
    public static readonly string[] Components = ["bl", "tee", "snp", "ucode"];

    public int this[string component] => component switch
    {
        "bl" => (int)(Raw & 0xFF),
        "tee" => (int)((Raw >> 8) & 0xFF),
        "snp" => (int)((Raw >> 48) & 0xFF),
        "ucode" => (int)((Raw >> 56) & 0xFF),
        _ => throw new ArgumentOutOfRangeException(nameof(component), component, "not a TCB component"),
    };

    public override string ToString()
    {
        var self = this;
        return string.Join(", ", Components.Select(c => $"{c} {self[c]}"));
    }
}
