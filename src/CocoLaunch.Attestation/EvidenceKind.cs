using System.Buffers.Binary;

namespace CocoLaunch.Attestation;

/// <summary>What a file of evidence is, by its own header.</summary>
public enum EvidenceKind
{
    SnpReport,
    TdxQuote,
}

/// <summary>
/// Tells an SNP report from a TDX quote by their magic and version, never by elimination: a truncated report must
/// be called a truncated report, not parsed as a quote. The two headers cannot be confused: a quote starts with a
/// u16 version 4 or 5, the u16 attestation key type 2 and the u32 TEE type 0x81; a report with the u32 VERSION 2–5,
/// whose upper half is zero where a quote has its key type.
/// </summary>
public static class EvidenceKinds
{
    public static EvidenceKind Detect(ReadOnlySpan<byte> bytes, string name)
    {
        if (bytes.Length >= 8
            && BinaryPrimitives.ReadUInt16LittleEndian(bytes) is 4 or 5
            && BinaryPrimitives.ReadUInt16LittleEndian(bytes[2..]) == Tdx.TdxQuote.AttestationKeyEcdsaP256
            && BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]) == Tdx.TdxQuote.TeeTypeTdx)
        {
            return EvidenceKind.TdxQuote;
        }

        if (bytes.Length >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(bytes) is >= 2 and <= 5)
        {
            return EvidenceKind.SnpReport;
        }

        throw new EvidenceFormatException(bytes.Length < 8
            ? $"{name}: {bytes.Length} bytes are too few to be an SNP report (0x4A0 bytes) or a TDX quote"
            : $"{name}: neither an SNP report (u32 version 2 to 5 at 0x0) nor a TDX quote (version 4 or 5, key type 2, TEE type 0x81 at 0x0–0x7)");
    }
}
