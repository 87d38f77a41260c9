namespace CocoLaunch.Formats.Tcg;

/// <summary>TPM_ALG_ID values of the digests an event log carries (TCG Algorithm Registry).</summary>
public static class TcgAlgorithm
{
    public const ushort Sha1 = 0x0004, Sha256 = 0x000B, Sha384 = 0x000C, Sha512 = 0x000D, Sm3 = 0x0012;

    public static string Name(ushort id) => id switch
    {
        Sha1 => "sha1",
        Sha256 => "sha256",
        Sha384 => "sha384",
        Sha512 => "sha512",
        Sm3 => "sm3_256",
        _ => $"alg-0x{id:x4}",
    };
}
