using System.Text;

namespace CocoLaunch.Firmware.Snp.Tests;

/// <summary>The managed SHA-384 the launch digest uses: FIPS 180-4's examples, and the platform's SHA384 byte for byte.</summary>
public sealed class Sha384Tests
{
    [Theory]
    [InlineData("", "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b")]
    [InlineData("abc", "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7")]
    [InlineData("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
        "09330c33f71147e83d192fc782cd1b4753111b173b3b05d22fa08086e3b0f712fcc7c71a557e2db966c3e9fa91746039")]
    public void FipsExamples(string message, string digest) =>
        Assert.Equal(digest, Convert.ToHexStringLower(Sha384.HashData(Encoding.ASCII.GetBytes(message))));

    [Fact]
    public void FipsMillionA() =>
        Assert.Equal("9d0e1809716474cb086e834e310a4a1ced149e9c00f248527972cec5704c2a5b07b8b3dc38ecc4ebae97ddd87f3d8985",
            Convert.ToHexStringLower(Sha384.HashData(Enumerable.Repeat((byte)'a', 1_000_000).ToArray())));

    [Fact]
    public void EqualsThePlatformSha384_AcrossBlockBoundariesAndWholePages()
    {
        var random = new Random(384);
        foreach (int length in Enumerable.Range(0, 260).Append(0x70).Append(4096).Append(3 * 4096 + 1))
        {
            byte[] data = new byte[length];
            random.NextBytes(data);
            byte[] ours = new byte[48];
            Sha384.HashData(data, ours);
            Assert.Equal(System.Security.Cryptography.SHA384.HashData(data), ours);
        }
    }
}
