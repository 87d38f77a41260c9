using System.Security.Cryptography;
using CocoLaunch.Abi;

namespace CocoLaunch.Firmware.Snp.Tests;

/// <summary>ID block and ID auth layouts (snp-launch-digest.md §14) and their binding at LAUNCH_FINISH.</summary>
public sealed class IdBlockTests
{
    private const ulong Policy = 0x30000;

    private static readonly ECDsa IdKey = ECDsa.Create(ECCurve.NamedCurves.nistP384);
    private static readonly ECDsa AuthorKey = ECDsa.Create(ECCurve.NamedCurves.nistP384);

    /// <summary>A launch of one NORMAL page, open for LAUNCH_FINISH, and its digest.</summary>
    private static (SnpGuestContext Context, byte[] Digest) Launched()
    {
        var context = new SnpGuestContext();
        context.LaunchStart(Policy);
        context.LaunchUpdate(SnpPageType.Normal, new Gpa(0xFFFF_F000), new byte[4096]);
        return (context, context.LaunchDigest);
    }

    private static byte[] Block(byte[] digest, ulong policy = Policy) =>
        new IdBlock(digest, Enumerable.Repeat((byte)0xF1, 16).ToArray(), Enumerable.Repeat((byte)0x1A, 16).ToArray(), 7, policy).ToBytes();

    [Fact]
    public void IdBlock_Layout()
    {
        byte[] b = Block(Enumerable.Range(0, 48).Select(i => (byte)i).ToArray());
        Assert.Equal(96, b.Length);
        Assert.Equal((byte)47, b[0x2F]);
        Assert.Equal((byte)0xF1, b[0x30]);
        Assert.Equal((byte)0x1A, b[0x40]);
        Assert.Equal((1u, 7u, Policy), (BitConverter.ToUInt32(b, 0x50), BitConverter.ToUInt32(b, 0x54), BitConverter.ToUInt64(b, 0x58)));
        Assert.Equal(b, IdBlock.Parse(b).ToBytes());
    }

    [Fact]
    public void AmdKeyAndSignatureFormats_AreLittleEndianAndPadded()
    {
        byte[] amd = AmdEcdsa.PublicKey(IdKey);
        var q = IdKey.ExportParameters(false).Q;
        Assert.Equal(2u, BitConverter.ToUInt32(amd, 0));
        Assert.Equal(q.X!.Reverse(), amd.Skip(4).Take(48));
        Assert.Equal(q.Y!.Reverse(), amd.Skip(0x4C).Take(48));
        Assert.All(amd.Skip(0x94), b => Assert.Equal(0, b));
        byte[] sig = AmdEcdsa.Sign(IdKey, "abc"u8);
        Assert.All(sig.Skip(0x30).Take(0x18).Concat(sig.Skip(0x78)), b => Assert.Equal(0, b));
        Assert.True(AmdEcdsa.Verify(amd, "abc"u8, sig));
        Assert.False(AmdEcdsa.Verify(amd, "abd"u8, sig));
    }

    [Fact]
    public void MatchingBlock_RoundTripsThroughFinish_WithKeyDigests()
    {
        var (context, digest) = Launched();
        byte[] block = Block(digest);
        byte[] auth = IdAuth.Build(block, IdKey, AuthorKey);
        Assert.Equal(IdAuth.Size, auth.Length);
        Assert.Equal(digest, context.LaunchFinish(block, auth, authorKeyEnabled: true));
        Assert.Equal((7u, (byte)0xF1), (context.IdBlock!.GuestSvn, context.IdBlock.FamilyId[0]));
        Assert.Equal(SHA384.HashData(AmdEcdsa.PublicKey(IdKey)), context.IdKeyDigest);
        Assert.Equal(SHA384.HashData(AmdEcdsa.PublicKey(AuthorKey)), context.AuthorKeyDigest);
    }

    [Fact]
    public void WrongDigest_BadMeasurement_AndTheLaunchStaysOpen()
    {
        var (context, digest) = Launched();
        byte[] other = (byte[])digest.Clone();
        other[0] ^= 1;
        byte[] block = Block(other);
        Assert.Equal(SnpStatus.BadMeasurement, Assert.Throws<SnpFirmwareException>(() => context.LaunchFinish(block, IdAuth.Build(block, IdKey), false)).Status);
        Assert.False(context.IsFinished);
        byte[] good = Block(digest);
        context.LaunchFinish(good, IdAuth.Build(good, IdKey), false);
        Assert.Equal(new byte[48], context.AuthorKeyDigest);
    }

    [Fact]
    public void WrongPolicy_PolicyFailure()
    {
        var (context, digest) = Launched();
        byte[] block = Block(digest, policy: 0x30001);
        Assert.Equal(SnpStatus.PolicyFailure, Assert.Throws<SnpFirmwareException>(() => context.LaunchFinish(block, IdAuth.Build(block, IdKey), false)).Status);
    }

    [Fact]
    public void TamperedSignatures_BadSignature()
    {
        var (context, digest) = Launched();
        byte[] block = Block(digest);
        byte[] idSigFlipped = IdAuth.Build(block, IdKey, AuthorKey);
        idSigFlipped[0x40] ^= 1;
        Assert.Equal(SnpStatus.BadSignature, Assert.Throws<SnpFirmwareException>(() => context.LaunchFinish(block, idSigFlipped, false)).Status);

        byte[] authorSigFlipped = IdAuth.Build(block, IdKey, AuthorKey);
        authorSigFlipped[0x680] ^= 1;
        var e = Assert.Throws<SnpFirmwareException>(() => context.LaunchFinish(block, authorSigFlipped, authorKeyEnabled: true));
        Assert.Equal(SnpStatus.BadSignature, e.Status);
        Assert.Contains("ID_KEY_SIG", e.Message);

        // Without AUTHOR_KEY_EN the author fields are not looked at.
        context.LaunchFinish(block, authorSigFlipped, authorKeyEnabled: false);
        Assert.True(context.IsFinished);
    }

    [Fact]
    public void AuthorKeyEnabledWithoutAnAuthorKey_BadSignature()
    {
        var (context, digest) = Launched();
        byte[] block = Block(digest);
        Assert.Equal(SnpStatus.BadSignature, Assert.Throws<SnpFirmwareException>(() => context.LaunchFinish(block, IdAuth.Build(block, IdKey), true)).Status);
    }
}

/// <summary>An ID block and ID auth signed by an independent implementation verify here (tests/data/oracle-snp-id-block.txt).</summary>
public sealed class IdBlockOracleTests
{
    [Fact]
    public void OracleSignedIdAuth_VerifiesAndGivesTheOraclesKeyDigests()
    {
        string[] lines = File.ReadAllLines(Path.Combine(CocoLaunch.Tests.Shared.RepoPaths.Root, "tests", "data", "oracle-snp-id-block.txt")).Where(l => !l.StartsWith('#')).ToArray();
        var parts = lines[0].Split(',').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => Convert.FromBase64String(p[1]));
        byte[] block = parts["id-block"], auth = parts["id-auth"];

        var parsed = IdBlock.Parse(block);
        Assert.Equal(Enumerable.Range(0, 48).Select(i => (byte)i), parsed.LaunchDigest);
        Assert.Equal((1u, 0u, 0x30000UL), (parsed.Version, parsed.GuestSvn, parsed.Policy));
        Assert.Null(IdAuth.Verify(block, auth, authorKeyEnabled: true));
        Assert.Equal(lines[1]["id_key_hash: ".Length..], Convert.ToBase64String(SHA384.HashData(IdAuth.IdKey(auth))));
        Assert.Equal(lines[2]["author_key: ".Length..], Convert.ToBase64String(SHA384.HashData(IdAuth.AuthorKey(auth))));

        block[0] ^= 1;
        Assert.Equal("ID_BLOCK_SIG does not verify with ID_KEY", IdAuth.Verify(block, auth, authorKeyEnabled: true));
    }
}
