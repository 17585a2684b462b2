package synthetic

// This file holds the read-only tables a patient's record is drawn from: names,
// addresses, contact details, habits and the like. They are never written after
// initialisation.

// firstNames holds typical first names by sex ("M", "F").
var firstNames = map[string][]string{
	"M": {"Vernon", "Lukas", "Jonas", "Felix", "Maximilian", "Paul", "Leon", "David", "Thomas", "Michael", "Stefan", "Ahmet", "Mehmet", "Piotr", "Luca", "Noah", "Elias", "Jan", "Andreas", "Jürgen", "Klaus", "Omar", "Marco", "Tobias"},
	"F": {"Beth", "Anna", "Sophie", "Marie", "Laura", "Julia", "Lena", "Emma", "Mia", "Sabine", "Petra", "Monika", "Ayşe", "Fatma", "Katarzyna", "Giulia", "Hannah", "Lea", "Clara", "Ursula", "Ingrid", "Leila", "Sara", "Nina"},
}

var lastNames = []string{
	"Lopez", "Martin", "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
	"Schulz", "Hoffmann", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz",
	"Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Yılmaz", "Kaya", "Nowak", "Kowalski",
	"Rossi", "Popescu", "Nguyen", "Haddad", "Jansen", "Keller",
}

var streets = []string{
	"Berliner Straße", "Bahnhofstraße", "Hauptstraße", "Lindenstraße", "Gartenstraße", "Schulstraße",
	"Kirchweg", "Am Markt", "Goethestraße", "Schillerstraße", "Friedrichstraße", "Mozartweg",
	"Rosenweg", "Parkallee", "Waldstraße", "Bergstraße", "Ringstraße", "Wilhelmstraße",
}

// towns pairs postcodes with towns.
var towns = []struct{ postcode, name string }{
	{"10115", "Berlin"}, {"10437", "Berlin"}, {"12043", "Berlin"}, {"20095", "Hamburg"}, {"22765", "Hamburg"},
	{"50667", "Köln"}, {"60311", "Frankfurt am Main"}, {"80331", "München"}, {"04109", "Leipzig"},
	{"01067", "Dresden"}, {"70173", "Stuttgart"}, {"30159", "Hannover"}, {"90403", "Nürnberg"},
	{"28195", "Bremen"}, {"44135", "Dortmund"},
}

var mobilePrefixes = []string{"0151", "0152", "0157", "0160", "0162", "0170", "0171", "0172", "0176", "0177"}

// emailDomains are reserved example domains, so no generated address can reach anyone.
var emailDomains = []string{"example.com", "example.org", "example.net"}

// bloodTypes holds each blood type with its share, in per mille, in a central
// European population.
var bloodTypes = []struct {
	name   string
	weight int
}{
	{"A+", 370}, {"O+", 350}, {"B+", 90}, {"AB+", 40}, {"A-", 60}, {"O-", 60}, {"B-", 20}, {"AB-", 10},
}

var insuranceProviders = []string{"ABC", "DEF", "Nordstern Krankenkasse", "Vita Health", "Rhein BKK", "Medisure Private"}

// habits lists lifestyle entries; adultOnly ones are not drawn for minors.
var habits = []struct {
	name      string
	adultOnly bool
}{
	{"smoking", true}, {"drinking", true}, {"sedentary lifestyle", false}, {"regular exercise", false},
	{"vegetarian diet", false}, {"shift work", true}, {"high-salt diet", false},
}

var relatedDocs = []string{
	"discharge letter", "cardiology report", "lab results", "vaccination record",
	"radiology report", "referral letter", "allergy passport",
}
