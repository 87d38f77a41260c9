using System.Security.Cryptography;
using CocoLaunch.Attestation.Certificates;

namespace CocoLaunch.Attestation.Tests;

/// <summary>RSASSA-PSS-params from a certificate in the evidence: anything but the forms AMD signs with is "unsupported", never an exception.</summary>
public sealed class PssParametersTests
{
    [Theory]
    [InlineData("3003020105")] // SEQUENCE { INTEGER 5 }: a universal tag where [0]..[3] belong (ArgumentException, found by the smoke run, seed 4242)
    [InlineData("300ba20902077fffffffffffff")] // saltLength past int (OverflowException)
    [InlineData("3000")] // all defaults: SHA-1, which AMD does not use
    [InlineData("30")] // truncated
    public void PssHash_MalformedOrUnsupported_IsNull(string der) =>
        Assert.Null(SignedObject.PssHash(Convert.FromHexString(der)));

    [Fact]
    public void PssHash_Sha384WithMgf1Sha384AndSalt48_IsSha384() =>
        Assert.Equal(HashAlgorithmName.SHA384, SignedObject.PssHash(Convert.FromHexString(
            "3034" + "a00f300d06096086480165030402020500" + "a11c301a06092a864886f70d010108300d06096086480165030402020500" + "a203020130")));
}
