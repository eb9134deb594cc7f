package container

import (
	"crypto/rand"
	"math/big"
)

// Docker-style random names, adjective_scientist, for containers made
// without --name.
var adjectives = []string{
	"admiring", "adoring", "affectionate", "agitated", "amazing", "angry", "awesome", "beautiful",
	"blissful", "bold", "boring", "brave", "busy", "charming", "clever", "compassionate", "competent",
	"condescending", "confident", "cool", "cranky", "crazy", "dazzling", "determined", "distracted",
	"dreamy", "eager", "ecstatic", "elastic", "elated", "elegant", "eloquent", "epic", "exciting",
	"fervent", "festive", "flamboyant", "focused", "friendly", "frosty", "funny", "gallant", "gifted",
	"goofy", "gracious", "great", "happy", "hardcore", "heuristic", "hopeful", "hungry", "infallible",
	"inspiring", "intelligent", "interesting", "jolly", "jovial", "keen", "kind", "laughing", "loving",
	"lucid", "magical", "modest", "musing", "mystifying", "naughty", "nervous", "nice", "nifty",
	"nostalgic", "objective", "optimistic", "peaceful", "pedantic", "pensive", "practical", "priceless",
	"quirky", "quizzical", "recursing", "relaxed", "reverent", "romantic", "sad", "serene", "sharp",
	"silly", "sleepy", "stoic", "strange", "stupefied", "suspicious", "sweet", "tender", "thirsty",
	"trusting", "unruffled", "upbeat", "vibrant", "vigilant", "vigorous", "wizardly", "wonderful",
	"xenodochial", "youthful", "zealous", "zen",
}

var scientists = []string{
	"agnesi", "albattani", "allen", "almeida", "archimedes", "ardinghelli", "babbage", "banach",
	"bardeen", "bartik", "bassi", "bell", "benz", "bhabha", "bohr", "booth", "borg", "bose", "brahmagupta",
	"brattain", "brown", "carson", "chandrasekhar", "chatelet", "chebyshev", "clarke", "curie",
	"darwin", "davinci", "dijkstra", "dirac", "einstein", "elion", "engelbart", "euclid", "euler",
	"faraday", "feistel", "fermat", "fermi", "feynman", "franklin", "galileo", "gauss", "goldberg",
	"goodall", "hamilton", "hawking", "heisenberg", "hermann", "hodgkin", "hoover", "hopper", "hypatia",
	"jackson", "jennings", "johnson", "kalam", "keller", "kepler", "khayyam", "knuth", "lalande",
	"lamarr", "lamport", "leakey", "lovelace", "lumiere", "margulis", "mayer", "mccarthy", "mcclintock",
	"meitner", "mendel", "minsky", "mirzakhani", "morse", "napier", "newton", "nobel", "noether",
	"pascal", "pasteur", "perlman", "pike", "poincare", "ptolemy", "raman", "ramanujan", "ritchie",
	"rosalind", "sammet", "shannon", "shockley", "sinoussi", "stonebraker", "swartz", "tesla",
	"thompson", "torvalds", "turing", "varahamihira", "villani", "wescoff", "wilbur", "wiles",
	"williams", "wilson", "wing", "wozniak", "wright", "yalow", "yonath",
}

func pick(list []string) string {
	n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(list))))
	return list[n.Int64()]
}

// randomName returns a name like "focused_turing" (docker never picks
// "boring_wozniak", nor do we).
func randomName() string {
	for {
		n := pick(adjectives) + "_" + pick(scientists)
		if n != "boring_wozniak" {
			return n
		}
	}
}
