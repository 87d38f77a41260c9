using Org.BouncyCastle.Crypto.Digests;

namespace CocoLaunch.Firmware.Snp;

/// <summary>
/// SHA-384 for the launch digest, managed (BouncyCastle's) rather than the platform's: on Linux the platform's is
/// OpenSSL, and loading libcrypto and libssl costs a `measure` process about 3.7 MiB of its peak RSS, more than the
/// hashing itself needs. The digests are the same bytes (tests check it against FIPS 180-4's examples and the
/// platform's SHA384); the attestation code, which needs OpenSSL for its signatures anyway, keeps the platform's.
/// </summary>
internal static class Sha384
{
    public const int Size = 48;

    /// <summary>
    /// One digest per thread, reused (DoFinal resets it): a fresh one per page is about 800 bytes of garbage, and the
    /// thousand-odd hashes of a launch, never collected in so short a process, would stay in its RSS.
    /// </summary>
    [ThreadStatic]
    private static Sha384Digest? digest;

    public static void HashData(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        var d = digest ??= new Sha384Digest();
        d.BlockUpdate(source);
        d.DoFinal(destination);
    }

    public static byte[] HashData(ReadOnlySpan<byte> source)
    {
        byte[] hash = new byte[Size];
        HashData(source, hash);
        return hash;
    }
}
